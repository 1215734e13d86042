"""Text documents (txt, md, csv, tsv, html, json, xml): inspect (encoding detected, characters), plan
(native where the model takes the format: Bedrock csv/html/txt/md, Gemini text/*, Anthropic text/plain;
else the decoded text as a text part) and transform (re-encode as UTF-8 for native delivery; HTML to
Markdown with markdownify for models that read text)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import workers.media.kinds.doc_text as doc_text
from workers.media.sniff import TEXT_MIMES
from workers.media.textfmt import read_text
from workers.providers.catalog import ModelCaps

NAME = "text"
MIMES = TEXT_MIMES
LABELS = {"text/plain": "plain text", "text/markdown": "Markdown", "text/csv": "CSV",
          "text/tab-separated-values": "TSV", "text/html": "HTML", "application/json": "JSON",
          "application/xml": "XML"}
_FENCE = {"text/csv": "csv", "text/tab-separated-values": "tsv", "application/json": "json", "application/xml": "xml"}


def inspect(path: Path, mime: str) -> dict[str, Any]:
    text, encoding = read_text(path)
    return {"encoding": encoding, "chars": len(text), "label": LABELS[mime], "utf8": encoding in ("utf_8", "ascii")}


def plan(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    problem = doc_text.native_problem(facts, caps, bool(options.get("out_of_line")))
    if doc_text.strategy(options) == "text":
        problem = problem or "document_strategy=text"
    if problem is None:
        if not facts.get("utf8"):
            return [{"op": "text_utf8", "reason": f"{facts['label']} in {facts['encoding']}: re-encoded as UTF-8, "
                                                  f"then sent natively to {caps.id}"}]
        return [doc_text.native_step(facts, caps)]
    return [doc_text.convert_step("text_convert", {**facts, "images": 0}, caps, options, problem)]


def transform(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    step = steps[0]
    text, _ = read_text(src)
    if step["op"] == "text_utf8":
        dest = workdir / "document.txt"
        dest.write_text(text, encoding="utf-8")
        return [{"path": dest, "kind": "document", "mime": facts["mime"], "est_tokens": -(-len(text) // 4)}]
    if facts["mime"] == "text/html":
        text = html_markdown(text)
    fence = _FENCE.get(facts["mime"])
    body = f"```{fence}\n{text.rstrip()}\n```\n" if fence and step.get("to") == "text" else text
    return doc_text.emit(body, step, f"[{facts['label']} document]" if step.get("to") == "text" else "", workdir)


def html_markdown(html: str) -> str:
    """HTML as Markdown (headings, lists, tables, links kept); scripts and styles dropped."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return MarkdownConverter(heading_style="ATX", bullets="-").convert_soup(soup).strip() + "\n"
