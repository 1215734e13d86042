"""P6: bytes Ferry sends upstream for the whole corpus vs naive base64 of the originals, per provider.

For each provider and each corpus file, the first model of that provider that takes the file's kind is
planned at detail=auto and transformed; "sent" is the base64 size of every file output plus the UTF-8
size of text outputs. Files Ferry refuses (415/413/422 at inspect, or no model of that provider takes the
kind) send nothing and are left out of BOTH columns, so refusals cannot flatter the ratio.
Last line: the worst provider's percentage.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def b64len(n: int) -> int:
    return 4 * ((n + 2) // 3)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from workers.core.errors import FerryError
    from workers.media.inspect import inspect_file
    from workers.media.plan import plan_resource
    from workers.media.transform import apply_plan
    from workers.providers.catalog import get_catalog

    catalog = get_catalog()
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")
    facts: dict[Path, dict] = {}
    for path in files:
        try:
            facts[path] = inspect_file(path)
        except FerryError:
            pass
    total_naive = sum(b64len(p.stat().st_size) for p in files)
    print(f"P6 bytes upstream, detail=auto: {len(files)} corpus files, naive base64 of all = {total_naive / 1e6:.1f} MB "
          f"({len(files) - len(facts)} refused by every provider at inspect)")
    print(f"{'provider':10} {'files sent':>10} {'refused':>8} {'naive b64 MB':>13} {'sent MB':>8} {'sent %':>7}")
    worst = (0.0, "")
    for provider, entry in catalog.providers.items():
        models = [catalog.resolve(f"{provider}/{m}") for m in entry.models]
        naive = sent = 0
        n_sent = refused = 0
        for path, f in facts.items():
            caps = next((c for c in models if c.caps_for(f["kind"])), None)
            if caps is None and f["kind"] == "document":
                caps = next((c for c in models if c.image), models[0])  # text/page-image strategy
            if caps is None:
                refused += 1
                continue
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    outs = apply_plan(path, f, plan_resource(f, caps, {"detail": "auto"}), Path(tmp))
                except FerryError:
                    refused += 1
                    continue
                sent += sum(b64len(Path(o["path"]).stat().st_size) if "path" in o else len(o["text"].encode())
                            for o in outs)
            naive += b64len(path.stat().st_size)
            n_sent += 1
        pct = 100 * sent / naive if naive else 0.0
        worst = max(worst, (pct, provider))
        print(f"{provider:10} {n_sent:10d} {refused:8d} {naive / 1e6:13.2f} {sent / 1e6:8.2f} {pct:6.1f}%")
    print(f"P6 worst provider bytes upstream vs naive base64: {worst[0]:.1f}% ({worst[1]})")


if __name__ == "__main__":
    main()
