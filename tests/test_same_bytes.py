"""Many writers of the same bytes (issue 10.1): a content-addressed blob is never corrupted or served bad.

Twelve concurrent submits of one ~8 MB PNG used to share a temp path, so one writer copied a file another
was truncating: most jobs then failed at ``inspect`` ("sniffed nothing") and one submit answered 500.
"""
from __future__ import annotations

import hashlib
import io
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image

from tests.conftest import AUTH, wait_job
from tests.helpers import image_part, job_body


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """About 8 MB of incompressible PNG (noise), so every writer spends long enough to overlap."""
    rng = random.Random(7)
    img = Image.frombytes("RGB", (1650, 1650), rng.randbytes(1650 * 1650 * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def test_twelve_concurrent_jobs_with_the_same_image_all_succeed(app: Any, big_png: bytes) -> None:
    import base64

    uri = "data:image/png;base64," + base64.b64encode(big_png).decode("ascii")

    def submit(i: int) -> tuple[int, dict[str, Any]]:
        resp = app.test_client().post("/v1/jobs", headers=AUTH, json=job_body(
            "openai/gpt-4.1", image_part(uri), text=f"prompt {i}", dry_run=True))
        return resp.status_code, resp.json

    for _round in range(2):
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(submit, range(12)))
        assert [status for status, _ in answers] == [202] * 12, answers
        client = app.test_client()
        jobs = [wait_job(client, body["id"], timeout=240) for _, body in answers]
        failed = [(j["id"], j.get("error")) for j in jobs if j["status"] != "succeeded"]
        assert failed == []
        shas = {j["resources"][0]["source"]["sha256"] for j in jobs}
        assert shas == {hashlib.sha256(big_png).hexdigest()}
