"""What office and text documents share: is it native for this model, else where the converted text goes
(a plain-text/Markdown document where the model takes one: Anthropic ``source.type: "text"``, Gemini
``text/*`` inline data, Bedrock ``txt``/``md``; else a text part), and the document's images, fitted to the
model, within its image count."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from workers.core.errors import TooLarge, Unprocessable
from workers.media.images import open_image
from workers.media.kinds.common import encode_args, encode_picture, mb
from workers.media.limits import MAX_DOCUMENT_IMAGES
from workers.providers.catalog import ModelCaps

#: Document strategies for non-PDF documents (``options.pdf_strategy`` is read too: ``text`` converts).
STRATEGIES = ("auto", "native", "text")
_TEXT_TARGETS = ("text/markdown", "text/plain")


def strategy(options: dict[str, Any]) -> str:
    value = str(options.get("document_strategy") or options.get("pdf_strategy") or "auto")
    return value if value in STRATEGIES else "auto"


def native_problem(facts: dict[str, Any], caps: ModelCaps, out_of_line: bool) -> str | None:
    """Why ``facts`` cannot go to ``caps`` natively as it is, or None."""
    dcaps = caps.document
    if dcaps is None or facts["mime"] not in dcaps.formats:
        return f"{caps.id} does not take {facts.get('label', facts['mime'])} documents natively"
    cap = caps.raw_byte_cap("document")
    if cap is not None and facts["bytes"] > cap and not out_of_line:
        return f"the document is {mb(facts['bytes'])}; {caps.id} takes at most {mb(cap)} per document"
    return None


def native_step(facts: dict[str, Any], caps: ModelCaps) -> dict[str, Any]:
    step: dict[str, Any] = {"op": "keep", "reason": f"{facts.get('label', facts['mime'])} within {caps.id}'s "
                                                    "document limits; sent natively"}
    if facts.get("chars") is not None:  # the estimate counts the document's text (4 characters a token)
        step["est_tokens"] = -(-int(facts["chars"]) // 4)
    return step


def convert_step(op: str, facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any], why: str) -> dict[str, Any]:
    """``op`` (``office_convert`` / ``text_convert``): text to a text document or a text part, plus images."""
    if strategy(options) == "native":
        error = TooLarge if " MB" in why else Unprocessable
        raise error(f"document_strategy=native: {why}; use auto or text")
    dcaps = caps.document
    chars = int(facts.get("chars") or 0)
    cap = caps.raw_byte_cap("document")
    target = next((m for m in _TEXT_TARGETS if dcaps is not None and m in dcaps.formats), None)
    if target and cap is not None and chars * 2 > cap and not options.get("out_of_line"):
        target = None  # too long for one document: a text part has no per-document cap
    step: dict[str, Any] = {"op": op, "to": target or "text"}
    where = f"a {target} document" if target else "text"
    n_images = int(facts.get("images") or 0)
    if n_images and caps.image is not None:
        icaps = caps.image
        wanted = int(options.get("document_images") or MAX_DOCUMENT_IMAGES)
        n = max(0, min(n_images, wanted, MAX_DOCUMENT_IMAGES, icaps.max_per_request or n_images))
        if n:
            step["max_images"] = n
            step["image"] = {"caps": icaps.model_dump(), **encode_args(icaps, caps, "image/png",
                                                                        str(options.get("detail") or "auto"))}
            where += f" and its first {n} of {n_images} embedded images"
    elif n_images:
        where += f" (its {n_images} images dropped: {caps.id} takes no images)"
    step["reason"] = f"{why}; sending {chars} characters of {facts.get('label', 'it')} converted to {where}"
    return step


def emit(text: str, step: dict[str, Any], header: str, workdir: Path,
         images: list[tuple[str, bytes]] | None = None) -> list[dict[str, Any]]:
    """Outputs for converted text (a document file or a text part) then the fitted images."""
    body = f"{header}\n\n{text}" if header else text
    outputs: list[dict[str, Any]] = []
    if step.get("to") in _TEXT_TARGETS:
        dest = workdir / ("converted.md" if step["to"] == "text/markdown" else "converted.txt")
        dest.write_text(body, encoding="utf-8")
        outputs.append({"path": dest, "kind": "document", "mime": step["to"], "chars": len(body),
                        "est_tokens": -(-len(body) // 4)})
    else:
        outputs.append({"kind": "text", "mime": "text/plain", "text": body})
    spec = step.get("image")
    for i, (name, data) in enumerate(images or []):
        if not spec:
            break
        src = workdir / f"embedded-{i:03d}"
        src.write_bytes(data)
        try:
            with open_image(src) as img:
                img.seek(0)
                picture = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
        except Exception:  # an undecodable or oversized embedded picture is left out, not fatal
            continue
        if min(picture.size) < 16:
            continue
        if picture.mode == "RGBA" and not spec["caps"].get("alpha", True):
            flat = Image.new("RGB", picture.size, (255, 255, 255))
            flat.paste(picture, mask=picture.split()[3])
            picture = flat
        out = encode_picture(picture.convert("RGB") if spec["mime"] == "image/jpeg" else picture, spec,
                             f"image-{i:03d}", workdir)
        out["embedded"] = name
        outputs.append(out)
    return outputs
