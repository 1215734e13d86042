"""What a dry run shows besides the provider request: the delivery plan and a token estimate.

Pure functions of the job record and its resources. Image tokens come from the catalog's
formula (``est_tokens`` on each image output, workers/media/tokens.py); text is about four
characters a token; pages, audio and video use published per-unit rates, so the whole is an
estimate (``method`` says how it was made), good for budgeting, not for billing.
"""
from __future__ import annotations

import math
from typing import Any

from workers.core.records import JobRecord, Resource

CHARS_PER_TOKEN = 4
TOKENS_PER_PDF_PAGE = 1500  # Anthropic's PDF guide: 1,500-3,000 text tokens per page, plus the page image
TOKENS_PER_AUDIO_SECOND = 32  # Gemini: 32 tokens per second of audio
TOKENS_PER_VIDEO_SECOND = 263  # Gemini: 263 tokens per second of video (1 fps frames + audio)


def delivery_plan(resources: list[Resource]) -> list[dict[str, Any]]:
    """One entry per delivered output: which part, what was sent, how, and why."""
    plan: list[dict[str, Any]] = []
    for res in resources:
        delivery = res.get("delivery") or {}
        decisions = delivery.get("parts") or ([delivery] if delivery else [])
        outputs = res.get("outputs") or []
        for i, how in enumerate(decisions):
            out = outputs[i] if i < len(outputs) else {}
            plan.append({"part": res.get("part"), "kind": out.get("kind"), "mime": out.get("mime"),
                         "bytes": out.get("bytes"), "method": how.get("method"), "ref": how.get("ref"),
                         "cached": bool(how.get("cached")), "reason": how.get("reason"),
                         "transforms": res.get("transforms") or []})
    return plan


def _text_chars(request: dict[str, Any]) -> int:
    chars = 0
    for msg in request.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return chars


def usage_estimate(record: JobRecord, resources: list[Resource]) -> dict[str, Any]:
    details = {"text": math.ceil(_text_chars(record.get("request") or {}) / CHARS_PER_TOKEN),
               "image": 0, "document": 0, "audio": 0, "video": 0}
    for res in resources:
        for out in res.get("outputs") or []:
            kind = out.get("kind")
            if kind == "text":
                details["text"] += math.ceil(len(out.get("text") or "") / CHARS_PER_TOKEN)
            elif kind == "image":
                details["image"] += int(out.get("est_tokens") or 0)
            elif kind == "document" and out.get("est_tokens") is not None:  # a text or office document: its text
                details["document"] += int(out["est_tokens"])
            elif kind == "document":
                details["document"] += int(out.get("pages") or (res.get("facts") or {}).get("pages") or 1) \
                    * TOKENS_PER_PDF_PAGE
            elif kind == "audio":
                secs = out.get("seconds") or (res.get("facts") or {}).get("duration_s") or 0
                details["audio"] += math.ceil(float(secs) * TOKENS_PER_AUDIO_SECOND)
            elif kind == "video":
                secs = out.get("seconds") or (res.get("facts") or {}).get("duration_s") or 0
                details["video"] += math.ceil(float(secs) * TOKENS_PER_VIDEO_SECOND)
    request = record.get("request") or {}
    max_out = request.get("max_completion_tokens") or request.get("max_tokens")
    return {"prompt_tokens": sum(details.values()), "prompt_tokens_details": details,
            "max_completion_tokens": max_out,
            "method": "images: catalog token formula; text (converted documents too): 4 chars/token; PDF: 1500/page; "
                      "audio 32/s; video 263/s"}
