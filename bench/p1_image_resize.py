"""P1: a 5120x2880 photo -> OpenAI high-detail JPEG (1365x768), Ferry vs naive Pillow vs pyvips thumbnail.

Three inputs: the corpus's progressive JPEG, the same photo re-saved as baseline 4:2:0 JPEG (made here in a
temp dir) and the corpus's PNG. Each (method, input) runs in its own child process: REPEAT timed runs
(median reported) and the peak RSS growth over the RSS just before the first run (VmHWM - VmRSS).
Ferry's time covers plan + transform (the worker's CPU stages); inspect facts are computed beforehand.
Children run with MALLOC_ARENA_MAX=2, as Ferry's cpu workers are deployed. Note the progressive input is
4:4:4: libjpeg must hold its whole coefficient buffer (5120*2880*3*2 bytes = 88 MB) to decode it at any
scale, so no libjpeg-based path (Pillow's or pyvips') can stay under 50 MB of growth on it.
Last line: the smallest Ferry/pyvips speed ratio over the three inputs.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "images"
REPEAT = 7
SIZE = (1365, 768)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def child(method: str, src: str, workdir: str, facts_json: str) -> None:
    """Runs in a fresh interpreter: import, warm nothing, measure."""
    sys.path.insert(0, str(ROOT))
    from PIL import Image
    import pyvips

    from workers.media.plan import plan_resource
    from workers.media.transform import apply_plan
    from workers.providers.catalog import get_catalog

    pyvips.cache_set_max(0)  # no operation cache for anyone: each run is a fresh file
    caps = get_catalog().resolve("openai/gpt-4o")
    facts = json.loads(facts_json)
    out = Path(workdir)

    def naive() -> tuple[int, int]:
        with Image.open(src) as im:
            im.load()
            small = im.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
        small.save(out / "naive.jpg", "JPEG", quality=85)
        return small.size

    def vips() -> tuple[int, int]:
        im = pyvips.Image.thumbnail(src, SIZE[0], height=SIZE[1])
        if im.hasalpha():
            im = im.flatten(background=[255, 255, 255])
        im.jpegsave(str(out / "vips.jpg"), Q=85)
        return im.width, im.height

    def ferry() -> tuple[int, int]:
        steps = plan_resource(facts, caps, {"detail": "high"})
        result = apply_plan(Path(src), facts, steps, out)[0]
        return result["width"], result["height"]

    fn = {"naive": naive, "pyvips": vips, "ferry": ferry}[method]
    rss_before = _status("VmRSS")
    times = []
    size = (0, 0)
    for _ in range(REPEAT):
        start = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - start)
    growth = _status("VmHWM") - rss_before
    print(json.dumps({"median": statistics.median(times), "rss_mb": growth / 2**20, "size": size}))


def run(method: str, src: Path, workdir: Path, facts: dict) -> dict:
    # Every child runs as Ferry's cpu workers are deployed (Procfile, compose, ferry up): glibc arenas capped.
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    res = subprocess.run([sys.executable, __file__, "--child", method, str(src), str(workdir), json.dumps(facts)],
                         capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from PIL import Image

    from workers.media.inspect import inspect_file

    with tempfile.TemporaryDirectory(prefix="ferry-p1-") as tmp:
        tmpdir = Path(tmp)
        baseline = tmpdir / "volna-baseline-420.jpg"
        with Image.open(CORPUS / "volna-5120x2880.jpg") as im:
            im.save(baseline, "JPEG", quality=90, subsampling="4:2:0", progressive=False)
        inputs = [("progressive JPEG", CORPUS / "volna-5120x2880.jpg"), ("baseline 4:2:0 JPEG", baseline),
                  ("PNG (RGBA)", CORPUS / "patak-5120x2880.png")]
        print(f"P1 image resize: 5120x2880 -> OpenAI high detail {SIZE[0]}x{SIZE[1]} JPEG; median of {REPEAT}, "
              f"one child process per cell")
        print(f"{'input':22} {'naive s':>8} {'pyvips s':>9} {'ferry s':>8} {'x naive':>8} {'x pyvips':>9} "
              f"{'RSS naive':>10} {'RSS pyvips':>11} {'RSS ferry':>10}  size")
        ratios = []
        for label, src in inputs:
            facts = inspect_file(src)
            work = tmpdir / label.split()[0]
            work.mkdir(exist_ok=True)
            r = {m: run(m, src, work, facts) for m in ("naive", "pyvips", "ferry")}
            vs_naive = r["naive"]["median"] / r["ferry"]["median"]
            vs_vips = r["pyvips"]["median"] / r["ferry"]["median"]
            ratios.append(vs_vips)
            print(f"{label:22} {r['naive']['median']:8.3f} {r['pyvips']['median']:9.3f} {r['ferry']['median']:8.3f} "
                  f"{vs_naive:7.2f}x {vs_vips:8.2f}x {r['naive']['rss_mb']:8.0f}MB {r['pyvips']['rss_mb']:9.0f}MB "
                  f"{r['ferry']['rss_mb']:8.0f}MB  {tuple(r['ferry']['size'])}")
        print(f"P1 min speed ratio vs pyvips: {min(ratios):.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
