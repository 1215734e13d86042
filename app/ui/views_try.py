"""``/ui/try``: submit a job from a form (files or URLs, a model from the catalog, prompt, detail, dry
run) and land on its page. The job goes through ``workers.services.jobs.submit``, exactly as
``POST /v1/jobs``; a refusal is shown on the form with its parameter."""
from __future__ import annotations

import base64
from typing import Any

from flask import redirect, request

from app.auth import context
from app.models import model_object
import app.ui.session as session
from app.ui.blueprint import bp, page
from workers.core.errors import BadRequest, FerryError, TooLarge
from workers.media.sniff import SNIFF_BYTES, kind_of, sniff_mime
from workers.services import jobs

#: What the form's "accepts" filter offers -> the model feature it needs (GET /v1/models' features).
ACCEPTS = {"image": "vision", "pdf": "pdf", "audio": "audio_input", "video": "video"}
DETAILS = ("auto", "low", "high")
#: What the model should answer with -> the request fields that ask for it (README: generated outputs).
ANSWERS: dict[str, dict[str, Any]] = {
    "text": {},
    "image": {"modalities": ["text", "image"]},
    "audio": {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}},
}
AUDIO_FORMATS = {"audio/wav": "wav", "audio/mpeg": "mp3"}


def models(accepts: str | None, answers: str | None = None) -> list[dict[str, Any]]:
    """The catalog's models that answer ``answers`` (text by default), filtered by an input they must accept."""
    catalog = context().catalog
    wanted = ACCEPTS.get(accepts or "")
    out = []
    for provider, entry in catalog.providers.items():
        for name in entry.models:
            m = model_object(catalog, provider, name)
            arch = m["architecture"]
            if (answers or "text") not in arch["output_modalities"] or (wanted and wanted not in arch["features"]):
                continue
            out.append({"id": m["id"], "label": f"{m['id']} — {', '.join(arch['features']) or 'text only'}"})
    return out


def _file_part(data: bytes, filename: str, detail: str, index: int) -> dict[str, Any]:
    mime = sniff_mime(data[:SNIFF_BYTES])
    kind = kind_of(mime)
    uri = f"data:{mime or 'application/octet-stream'};base64,{base64.b64encode(data).decode('ascii')}"
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": uri, "detail": detail}}
    if kind == "audio":
        fmt = AUDIO_FORMATS.get(mime or "", (mime or "audio/wav").split("/", 1)[1])
        return {"type": "input_audio", "input_audio": {"data": uri, "format": fmt}}
    if mime is None:
        raise BadRequest(f"file {index + 1} ({filename}) is not a media type Ferry recognises from its bytes",
                         param="files")
    return {"type": "file", "file": {"filename": filename, "file_data": uri}}


def build_body(form: Any, files: list[Any], max_bytes: int) -> dict[str, Any]:
    """The ``POST /v1/jobs`` body the form describes."""
    detail = form.get("detail") or "auto"
    if detail not in DETAILS:
        raise BadRequest(f"detail must be one of {', '.join(DETAILS)}", param="detail")
    content: list[dict[str, Any]] = []
    prompt = (form.get("prompt") or "").strip()
    if prompt:
        content.append({"type": "text", "text": prompt})
    total = 0
    for i, upload in enumerate(f for f in files if f and f.filename):
        data = upload.read(max_bytes + 1)
        total += len(data)
        if total > max_bytes:
            raise TooLarge(f"uploads are over FERRY_MAX_REQUEST_BYTES ({max_bytes} bytes) in all", param="files")
        content.append(_file_part(data, upload.filename, detail, i))
    for line in (form.get("urls") or "").splitlines():
        url = line.strip()
        if url:
            content.append({"type": "image_url", "image_url": {"url": url, "detail": detail}})
    if not content:
        raise BadRequest("write a prompt or add a file or URL", param="prompt")
    answers = form.get("answers") or "text"
    if answers not in ANSWERS:
        raise BadRequest(f"answer with must be one of {', '.join(ANSWERS)}", param="answers")
    body: dict[str, Any] = {"request": {"model": form.get("model") or "",
                                        "messages": [{"role": "user", "content": content}], **ANSWERS[answers]},
                            "dry_run": form.get("dry_run") == "on", "metadata": {"source": "ui"}}
    if max_tokens := (form.get("max_tokens") or "").strip():
        try:
            body["request"]["max_tokens"] = int(max_tokens)
        except ValueError:
            raise BadRequest("max tokens must be a whole number", param="max_tokens") from None
    return body


@bp.get("/try")
def try_form():  # type: ignore[no-untyped-def]
    session.tenant()
    accepts, answers = request.args.get("accepts") or "", request.args.get("answers") or "text"
    return page("try.html", title="Try it", models=models(accepts, answers), accepts=accepts, accept_kinds=ACCEPTS,
                answers=answers, answer_kinds=ANSWERS, details=DETAILS,
                form={"model": request.args.get("model", ""), "detail": "auto", "dry_run": "on"})


@bp.post("/try")
def try_submit():  # type: ignore[no-untyped-def]
    tenant, ctx = session.tenant(), context()
    session.check_csrf()
    try:
        body = build_body(request.form, request.files.getlist("files"), ctx.settings.max_request_bytes)
        job = jobs.submit(ctx, tenant, body)
    except FerryError as exc:
        return page("try.html", exc.status, title="Try it",
                    models=models(request.form.get("accepts"), request.form.get("answers")),
                    accepts=request.form.get("accepts") or "", accept_kinds=ACCEPTS,
                    answers=request.form.get("answers") or "text", answer_kinds=ANSWERS, details=DETAILS,
                    form=request.form, error=exc.to_dict())
    return redirect(f"/ui/jobs/{job['id']}", code=303)
