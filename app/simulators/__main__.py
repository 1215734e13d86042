"""``python -m app.simulators [--base-port N] [--api-key K]``: serve every simulator until Ctrl-C.

Prints the environment a Ferry process needs (one ``NAME=value`` per line, ready for
``export`` or an env file), using DESIGN.md's base-URL conventions: OpenAI and xAI include
``/v1``; Anthropic, Gemini, Mistral and Cohere do not; Bedrock via boto3's
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` (and ``AWS_ENDPOINT_URL_BEDROCK`` for batch jobs); Azure as ``AZURE_OPENAI_ENDPOINT``; Vertex as ``VERTEX_BASE_URL`` with
``GOOGLE_CLOUD_PROJECT`` and a static ``VERTEX_ACCESS_TOKEN``; the generic OpenAI-compatible server as
``FERRY_ENDPOINTS=compat=…/v1``.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import DEFAULT_API_KEY, env_for, run_all, stop_all

ORDER = ("openai", "anthropic", "gemini", "bedrock", "mistral", "xai", "cohere", "azure", "vertex", "compat")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.simulators", description=__doc__.splitlines()[0])
    parser.add_argument("--base-port", type=int, default=0,
                        help="first port; providers get consecutive ports (default: any free ports)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="key every simulator accepts")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    ports = {name: args.base_port + i for i, name in enumerate(ORDER)} if args.base_port else None
    servers = run_all(ports, api_key=args.api_key, host=args.host)
    for key, value in env_for(servers, args.api_key).items():
        print(f"{key}={value}")
    print("# test controls on every simulator: GET|DELETE /_sim/log, POST|GET|DELETE /_sim/faults, "
          "POST /_sim/reset", file=sys.stderr)
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(servers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
