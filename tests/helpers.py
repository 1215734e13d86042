"""Small helpers for building requests in tests."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.conftest import CORPUS


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{b64(path)}"


def image_part(url: str, detail: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if detail:
        body["detail"] = detail
    return {"type": "image_url", "image_url": body}


def pdf_part(path: Path = CORPUS / "pdf" / "pdflatex-4-pages.pdf") -> dict[str, Any]:
    return {"type": "file", "file": {"filename": path.name, "file_data": data_uri(path, "application/pdf")}}


def job_body(model: str, *parts: dict[str, Any], text: str = "What is in these?", **extra: Any) -> dict[str, Any]:
    return {"request": {"model": model, "messages": [{"role": "user", "content": [{"type": "text", "text": text}, *parts]}]},
            **extra}


def fresh_image_uri(fmt: str = "PNG", size: tuple[int, int] = (96, 64)) -> str:
    """An image no other test sent, as a data URI. Ferry remembers work per content (Files-API uploads, inspect
    facts), so a test that counts uploads or inspects must not reuse bytes another test may have sent first."""
    import io
    import secrets

    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", size, secrets.token_bytes(size[0] * size[1] * 3)).save(buf, fmt)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg"}[fmt]
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode()
