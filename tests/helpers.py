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
