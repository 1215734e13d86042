"""The ``ferry`` command: run the service, and talk to it.

    ferry up [--demo] [--exit]     embedded Redis + web + workers on this machine
    ferry serve | ferry worker     one process each (what Procfile runs)
    ferry submit FILE... --model M --prompt P [--wait] [--dry-run]
    ferry wait JOB_ID
    ferry batch DIR --model M --prompt P --out results.jsonl   (resumable)
    ferry models [--vision] [--output image|audio]
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.markup import escape

from app.cli.client import FerryClient, media_part
from workers.core.settings import LOCAL_API_KEY, get_settings

console = Console()
SAMPLES = Path(__file__).resolve().parents[2] / "workers" / "samples"
DEMO_MODELS = ("openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash")

url_option = click.option("--url", envvar="FERRY_URL", default="http://127.0.0.1:8000", show_default=True,
                          help="Ferry's base URL (env FERRY_URL).")
key_option = click.option("--key", envvar="FERRY_API_KEY", default=LOCAL_API_KEY, show_default=True,
                          help="Your Ferry API key (env FERRY_API_KEY).")


@click.group()
def main() -> None:
    """Ferry: get images, PDFs, audio and video into LLM requests."""


# -- running the service ------------------------------------------------------

def _worker_argv(queues: str, pool: str, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.tasks.celery", "worker", "-Q", queues,
            "-P", pool, "-c", str(concurrency), "--loglevel", "INFO", "-n", f"{queues.replace(',', '-')}@%h"]


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", "web_workers", default=2, show_default=True, type=int, help="gunicorn processes")
def serve(host: str, port: int, web_workers: int) -> None:
    """Run the HTTP API (gunicorn)."""
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-b", f"{host}:{port}", "-w", str(web_workers),
                               "--threads", "8", "--access-logfile", "-", "app:create_app()"])


@main.command()
@click.option("--queues", "-Q", default="io,cpu,llm", show_default=True)
@click.option("--pool", "-P", default="prefork", show_default=True)
@click.option("--concurrency", "-c", default=os.cpu_count() or 2, show_default=True, type=int)
def worker(queues: str, pool: str, concurrency: int) -> None:
    """Run a Celery worker for the given queues."""
    os.execvp(sys.executable, _worker_argv(queues, pool, concurrency))


def _wait_healthy(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise click.ClickException(f"{p.args[2:5]} exited with {p.returncode}; see the log above")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise click.ClickException(f"{url}/healthz did not answer within {timeout:g} s")


@main.command()
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Start the bundled provider simulators and run sample jobs.")
@click.option("--exit", "exit_after", is_flag=True, help="Stop everything after the demo (for scripts).")
def up(port: int, demo: bool, exit_after: bool) -> None:
    """Run Ferry on this machine: Redis (embedded unless REDIS_URL), web and one worker per queue."""
    from workers.core.embedded_redis import redis_url

    # `kill`, `timeout`, a process manager: stop like Ctrl-C, so children and the embedded Redis stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = get_settings()
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url(settings)  # children share the one we start (or the given one)
    env["FERRY_DATA_DIR"] = str(settings.data_dir.resolve())
    env.setdefault("MALLOC_ARENA_MAX", "2")  # glibc arenas inflate decoder RSS (bench/p1_image_resize.py)
    console.print(f"[bold]redis[/] {env['REDIS_URL']} ({'given' if settings.redis_url else 'embedded'})")
    sims = None
    url = f"http://127.0.0.1:{port}"
    cpus = os.cpu_count() or 2
    specs = {
        "web": [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "8",
                "app:create_app()"],
        "worker-io": _worker_argv("io", "threads", 16),
        "worker-cpu": _worker_argv("cpu", "prefork", cpus),
        "worker-llm": _worker_argv("llm", "threads", 16),
    }
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if demo:
            sims = _start_simulators(env)
        for name, argv in specs.items():
            log = (log_dir / f"{name}.log").open("ab")
            procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
            console.print(f"[bold]{name}[/] pid {procs[-1].pid}, log {log_dir / (name + '.log')}")
        _wait_healthy(url, procs)
        console.print(f"[green]Ferry is up[/] at {url}  (API key: {next(iter(settings.tenant_keys()))})")
        console.print(f"Browser UI: {url}/ui/  (sign in with that key)")
        ok = True
        if demo:
            ok = run_demo(FerryClient(url, next(iter(settings.tenant_keys()))))
        if exit_after:
            sys.exit(0 if ok else 1)
        console.print(f"See the jobs in a browser at {url}/ui/ · Ctrl-C stops everything.")
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        raise click.ClickException("a process exited; see the logs")
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        if sims:
            for s in sims.values():
                s.stop()
        if not settings.redis_url:
            from workers.core.embedded_redis import stop_embedded

            stop_embedded(settings.data_dir)


def _start_simulators(env: dict[str, str]) -> dict[str, Any]:
    """The bundled provider simulators (app/simulators), so the demo calls real HTTP APIs offline."""
    from app.simulators.server import env_for, run_all

    sims = run_all()
    # Every provider at its simulator: base URLs and keys, and Bedrock's endpoint and AWS credentials, Azure's
    # endpoint, Vertex's project and token, the OpenAI-compatible endpoint (only in the processes started here).
    env.update(env_for(sims))
    # The simulators' batches end in about a second: poll them every 2 s, not every minute (unless set).
    env.setdefault("FERRY_BATCH_POLL_SECONDS", "2")
    console.print(f"[bold]simulators[/] {', '.join(f'{n}={s.url}' for n, s in sims.items())}")
    return sims


def _sample_request(model: str, prompt: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": prompt},
            media_part(SAMPLES / "hopper.jpg"),
            media_part(SAMPLES / "sample.pdf"),
        ]}],
    }


def _show_progress(job: dict[str, Any]) -> None:
    console.print(f"  {job['id']}  {job['status']:<9} stage={job.get('stage'):<10} progress={job.get('progress')}")


def _show_timeline(job: dict[str, Any]) -> None:
    """Every stage step the workers finished, with milliseconds since submission."""
    start = job.get("submitted_at") or job["created_at"]  # created_at is whole seconds
    steps = [f"{t['step']} +{int((t['at'] - start) * 1000)}ms" for t in job.get("timeline", [])]
    console.print("  stages: " + " → ".join(steps))


def run_demo(client: FerryClient) -> bool:
    """Dry runs show each provider's native request; real runs go to the simulators."""
    ok = True
    for model in DEMO_MODELS:
        console.rule(f"[bold]{model}: dry run (the exact provider request)")
        job = client.wait(client.submit({"request": _sample_request(model, "Describe the image and the PDF."),
                                         "dry_run": True})["id"], on_update=_show_progress)
        ok &= job["status"] == "succeeded"
        console.print_json(json.dumps(job.get("provider_request") or job.get("error")))
        console.rule(f"[bold]{model}: completion (bundled simulator)")
        job = client.wait(client.submit({"request": _sample_request(model, "Describe the image and the PDF.")})["id"],
                          on_update=_show_progress)
        ok &= job["status"] == "succeeded"
        _show_timeline(job)
        if job["status"] == "succeeded":
            msg = job["result"]["choices"][0]["message"]["content"]
            console.print(f"  answer: {msg}\n  usage: {job['result']['usage']}", markup=False)
        else:
            console.print(f"  [red]error[/]: {escape(str(job.get('error')))}")
    console.rule("[green]demo done" if ok else "[red]demo had failures")
    return ok


# -- talking to a running Ferry ---------------------------------------------------

@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "-m", required=True, help="provider/model, e.g. anthropic/claude-sonnet-4-5")
@click.option("--prompt", "-p", default="Describe this.", show_default=True)
@click.option("--detail", type=click.Choice(["auto", "low", "high"]), default="auto", show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the provider request instead of calling the provider.")
@click.option("--wait", "wait_", is_flag=True, help="Wait for the result and print it.")
@url_option
@key_option
def submit(files: tuple[Path, ...], model: str, prompt: str, detail: str, dry_run: bool, wait_: bool,
           url: str, key: str) -> None:
    """Submit FILES with a prompt; print the job id (or the result with --wait)."""
    client = FerryClient(url, key)
    content = [{"type": "text", "text": prompt}, *(media_part(f, detail) for f in files)]
    body = {"request": {"model": model, "messages": [{"role": "user", "content": content}]}, "dry_run": dry_run}
    try:
        job = client.submit(body)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    if not wait_:
        click.echo(job["id"])
        return
    _finish(client, job["id"])


@main.command()
@click.argument("job_id")
@click.option("--timeout", default=600.0, show_default=True)
@url_option
@key_option
def wait(job_id: str, timeout: float, url: str, key: str) -> None:
    """Wait for JOB_ID to finish; print its result (exit 1 if it failed)."""
    _finish(FerryClient(url, key), job_id, timeout)


def _finish(client: FerryClient, job_id: str, timeout: float = 600.0) -> None:
    try:
        job = client.wait(job_id, timeout=timeout, on_update=lambda j: console.print(
            f"{j['id']} {j['status']} stage={j.get('stage')} progress={j.get('progress')}", style="dim"))
    except (RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = job.get("result") or job.get("provider_request") or {"error": job.get("error")}
    click.echo(json.dumps(out, indent=2))
    if job["status"] != "succeeded":
        sys.exit(1)


from app.cli.batch import batch, models  # noqa: E402  (ferry batch DIR, ferry models)

main.add_command(batch)
main.add_command(models)


if __name__ == "__main__":
    main()
