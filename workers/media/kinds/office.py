"""Office documents: Word, Excel, PowerPoint (OOXML), OpenDocument (odt, ods, odp) and legacy OLE2 (doc,
xls, ppt). inspect checks the zip (workers/media/zipsafe.py), refuses encrypted files (422) and converts
once to learn the text's size, sheets and slides (413 past the caps); plan sends natively where the model
takes the format (Bedrock docx/xlsx/doc/xls) and otherwise converts to Markdown (workers/media/office_md.py,
odf_md.py) plus the document's images; legacy doc/ppt, which no maintained pure-Python library reads, go
natively where accepted, else 415 naming the formats to convert to."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from workers.core.errors import UnsupportedMedia, Unprocessable
from workers.media import odf_md, office_md
from workers.media import sniff as s
import workers.media.kinds.doc_text as doc_text
from workers.media.zipsafe import check_xml_parts, check_zip, open_zip
from workers.providers.catalog import ModelCaps

NAME = "office"
MIMES = s.OFFICE_MIMES
LABELS = {s.DOCX: "Word (docx)", s.XLSX: "Excel (xlsx)", s.PPTX: "PowerPoint (pptx)", s.ODT: "OpenDocument text (odt)",
          s.ODS: "OpenDocument spreadsheet (ods)", s.ODP: "OpenDocument presentation (odp)",
          s.DOC: "Word 97-2003 (doc)", s.XLS: "Excel 97-2003 (xls)", s.PPT: "PowerPoint 97-2003 (ppt)"}
CONVERTERS: dict[str, Callable[[Path], office_md.Converted]] = {
    s.DOCX: office_md.docx_markdown, s.XLSX: office_md.xlsx_markdown, s.PPTX: office_md.pptx_markdown,
    s.ODT: odf_md.odt_markdown, s.ODS: odf_md.ods_markdown, s.ODP: odf_md.odp_markdown, s.XLS: office_md.xls_markdown,
}
#: What to convert a legacy file nobody here reads into.
CONVERT_TO = {s.DOC: "docx or PDF", s.PPT: "pptx or PDF"}
_ZIPPED = (s.DOCX, s.XLSX, s.PPTX, s.ODT, s.ODS, s.ODP)


def inspect(path: Path, mime: str) -> dict[str, Any]:
    if mime == s.ENCRYPTED_OOXML:
        raise Unprocessable("the Office document is encrypted (an OLE2 container with EncryptionInfo and "
                            "EncryptedPackage); send it without the password")
    facts: dict[str, Any] = {"label": LABELS[mime]}
    if mime in _ZIPPED:
        summary = check_zip(path, LABELS[mime])
        with open_zip(path) as zf:
            check_xml_parts(zf, [n for n in summary.names if not n.startswith(("word/media/", "ppt/media/", "xl/media/"))])
        facts.update(zip_entries=summary.entries, uncompressed=summary.uncompressed,
                     macros=any(n.lower().endswith("vbaproject.bin") or n.startswith("Basic/") for n in summary.names),
                     images=office_md.count_images(path))
    elif mime in (s.DOC, s.PPT):
        _legacy_encryption(path, mime)
    converter = CONVERTERS.get(mime)
    if converter is not None:
        converted = converter(path)
        facts.update(converted.facts, chars=len(converted.markdown))
    return facts


def _legacy_encryption(path: Path, mime: str) -> None:
    """422 for an encrypted Word 97-2003 file (fEncrypted, bit 0x0100 of the FIB flags at offset 0x0A) or
    PowerPoint 97-2003 file (an ``EncryptedSummary`` stream, MS-PPT 2.3.7)."""
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        if mime == s.PPT:
            encrypted = ole.exists("EncryptedSummary")
        else:
            fib = ole.openstream("WordDocument").read(12)
            encrypted = len(fib) >= 12 and bool(int.from_bytes(fib[10:12], "little") & 0x0100)
    if encrypted:
        raise Unprocessable(f"the {LABELS[mime]} file is encrypted; send it without the password")


def plan(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    mime = facts["mime"]
    problem = doc_text.native_problem(facts, caps, bool(options.get("out_of_line")))
    if doc_text.strategy(options) == "text" and mime in CONVERTERS:
        problem = problem or "document_strategy=text"
    if facts.get("macros") and problem is None and mime in CONVERTERS:
        problem = f"{facts['label']} is macro-enabled (Ferry never sends macros on)"
    if problem is None:
        return [doc_text.native_step(facts, caps)]
    if mime not in CONVERTERS:
        raise UnsupportedMedia(f"{problem}, and Ferry cannot read {facts['label']} files itself; convert it to "
                               f"{CONVERT_TO.get(mime, 'PDF')} (Bedrock Converse models take doc natively)")
    return [doc_text.convert_step("office_convert", facts, caps, options, problem)]


def transform(src: Path, facts: dict[str, Any], steps: list[dict[str, Any]], workdir: Path) -> list[dict[str, Any]]:
    step = steps[0]
    if step["op"] != "office_convert":
        raise Unprocessable(f"unknown office transform {step['op']!r}")
    converted = CONVERTERS[facts["mime"]](src)
    images = office_md.embedded_images(src, int(step.get("max_images") or 0)) if facts["mime"] in _ZIPPED else []
    header = f"[{facts['label']} document converted to Markdown]" if step.get("to") == "text" else ""
    return doc_text.emit(converted.markdown, step, header, workdir, images)
