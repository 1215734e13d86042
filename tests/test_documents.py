"""Documents beyond PDF, without services: sniffing from bytes, zip/XML limits, encryption, conversion to
Markdown, and the per-provider plan (native, converted, refused). Real files from tests/documents (Apache
Tika's corpus) beside generated ones (tests/docgen.py)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.docgen import DOCS, MARKERS, make, make_docx, make_ods, make_text, odf_zip, png_bytes
from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media import sniff as s
from workers.media.inspect import inspect_file
from workers.media.limits import MAX_SHEET_CELLS, MAX_ZIP_ENTRIES, MAX_ZIP_RATIO
from workers.media.plan import plan_resource
from workers.media.textfmt import classify
from workers.media.transform import apply_plan
from workers.pipeline.estimate import usage_estimate
from workers.providers.catalog import get_catalog

SNIFFED = {"docx": s.DOCX, "xlsx": s.XLSX, "pptx": s.PPTX, "odt": s.ODT, "ods": s.ODS, "odp": s.ODP,
           "doc": s.DOC, "xls": s.XLS, "ppt": s.PPT, "csv": "text/csv", "tsv": "text/tab-separated-values",
           "md": "text/markdown", "txt": "text/plain", "html": "text/html", "json": "application/json",
           "xml": "application/xml"}


def caps(model: str):  # type: ignore[no-untyped-def]
    return get_catalog().resolve(model)


def convert(path: Path, model: str, tmp: Path, **options):  # type: ignore[no-untyped-def]
    facts = inspect_file(path)
    steps = plan_resource(facts, caps(model), options)
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    return facts, steps, apply_plan(path, facts, steps, work)


def text_of(outputs: list[dict]) -> str:
    out = []
    for o in outputs:
        if o["kind"] == "text":
            out.append(o["text"])
        elif o["kind"] == "document" and o["mime"].startswith("text/"):
            out.append(Path(o["path"]).read_text("utf-8"))
    return "\n".join(out)


# -- sniffing -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", sorted(SNIFFED))
def test_every_format_is_recognised_from_its_bytes_under_a_wrong_name(tmp_path, ext):
    path = make(ext, tmp_path)
    blind = path.rename(tmp_path / "upload.bin")  # no useful name
    assert inspect_file(blind, declared_mime="application/octet-stream")["mime"] == SNIFFED[ext]


@pytest.mark.parametrize("name", ["testWORD.docx", "testPPT.pptx", "testEXCEL.xlsx", "testWORD.doc", "testEXCEL.xls",
                                  "testPPT.ppt", "testODFwithOOo3.odt"])
def test_real_files_are_recognised(name):
    ext = name.rsplit(".", 1)[1]
    assert inspect_file(DOCS / name)["mime"] == SNIFFED[ext]


def test_a_declared_type_only_breaks_ties_between_text_formats(tmp_path):
    plain = tmp_path / "notes"
    plain.write_text("just a line of words\nand another\n")
    assert inspect_file(plain)["mime"] == "text/plain"
    assert inspect_file(plain, declared_mime="text/markdown")["mime"] == "text/markdown"  # any text may be Markdown
    assert inspect_file(plain, filename="notes.md")["mime"] == "text/markdown"
    assert inspect_file(plain, declared_mime="text/csv")["mime"] == "text/plain"  # does not split into columns
    json_file = make_text(tmp_path / "x.txt", "json")
    assert inspect_file(json_file, declared_mime="text/plain")["mime"] == "application/json"  # the bytes win


def test_classify_tells_text_formats_apart():
    assert classify("a;b;c\n1;2;3\n") == "text/csv"
    assert classify("<svg xmlns='http://www.w3.org/2000/svg'><g/></svg>") == "application/xml"
    assert classify("<div>unclosed <p>html") == "text/html"
    assert classify("| a | b |\n|---|---|\n| 1 | 2 |\n") == "text/markdown"


def test_text_is_decoded_by_its_detected_encoding(tmp_path):
    path = make_text(tmp_path / "latin.txt", "txt")  # cp1252, not UTF-8
    facts = inspect_file(path)
    assert facts["encoding"] not in ("utf_8", "ascii") and not facts["utf8"]
    _, steps, outs = convert(path, "openai/gpt-4o", tmp_path)
    assert "Grüße aus Köln" in text_of(outs) and "schöne Straße" in text_of(outs)
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("Überschrift: MARKER-16\n".encode("utf-16"))
    assert "Überschrift: MARKER-16" in text_of(convert(utf16, "openai/gpt-4o", tmp_path)[2])


def test_binary_junk_and_other_zips_stay_unrecognised(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UnsupportedMedia, match="unrecognised"):
        inspect_file(junk)
    plain_zip = tmp_path / "a.zip"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedMedia, match="application/zip"):
        inspect_file(plain_zip)


# -- limits while reading --------------------------------------------------------------------------------------

def test_zip_bomb_is_refused_by_its_ratio(tmp_path):
    bomb = make_docx(tmp_path / "bomb.docx", image=False)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/padding.xml", b"\0" * 50_000_000)  # 50 MB of zeros deflate to ~50 KB
    with pytest.raises(TooLarge, match=f"{MAX_ZIP_RATIO}x"):
        inspect_file(bomb)


def test_a_lying_central_directory_is_caught_while_inflating(tmp_path):
    path = make_docx(tmp_path / "liar.docx", image=False)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/big.xml", b"<a/>" + b" " * 3_000_000)
    raw = bytearray(path.read_bytes())
    cd = raw.rfind(b"PK\x01\x02")  # the last central directory entry: word/big.xml
    raw[cd + 24:cd + 28] = (100).to_bytes(4, "little")  # claims 100 bytes uncompressed
    path.write_bytes(bytes(raw))
    with pytest.raises(UnsupportedMedia, match="corrupt"):
        inspect_file(path)


def test_too_many_entries_is_a_413_naming_the_cap(tmp_path):
    path = make_docx(tmp_path / "many.docx", image=False)
    with zipfile.ZipFile(path, "a") as zf:
        for i in range(MAX_ZIP_ENTRIES + 1):
            zf.writestr(f"customXml/ferry{i}.xml", "<a/>")
    with pytest.raises(TooLarge, match=str(MAX_ZIP_ENTRIES)):
        inspect_file(path)


def test_xml_entities_are_never_expanded(tmp_path):
    lol = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
           '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0">&lol2;'
           '</office:document-content>')
    path = odf_zip(tmp_path / "lol.odt", "odt", "")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("styles.xml", lol)
    with pytest.raises(Unprocessable, match="entities"):
        inspect_file(path)


def test_encrypted_office_files_are_422(tmp_path):
    for name in ("testWORD_protected_passtika.docx", "testWORD_protected_passtika.doc",
                 "testEXCEL_protected_passtika.xls", "testPPT_protected_passtika.ppt", "testODTEncrypted.odt"):
        with pytest.raises(Unprocessable, match="encrypted"):
            inspect_file(DOCS / name)


def test_oversized_sheets_are_413_naming_the_limit(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["C3"] = "x"
    wb.save(tmp_path / "small.xlsx")
    claims = tmp_path / "claims.xlsx"  # the same sheet, claiming the whole grid in its <dimension>
    with zipfile.ZipFile(tmp_path / "small.xlsx") as src, zipfile.ZipFile(claims, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="C3:C3"/>', b'<dimension ref="A1:XFD1048576"/>')
                assert b"XFD1048576" in data
            dst.writestr(item, data)
    with pytest.raises(TooLarge, match=f"A1:XFD1048576 .*{MAX_SHEET_CELLS} cells"):
        inspect_file(claims)
    dense = make_ods(tmp_path / "dense.ods")
    assert inspect_file(dense)["sheets"][0]["used_range"] == "A1:B2"  # a million repeated empty rows cost nothing
    repeated = odf_zip(tmp_path / "rep.ods", "ods", '<office:spreadsheet><table:table table:name="T">'
                       '<table:table-row table:number-rows-repeated="5000"><table:table-cell '
                       'table:number-columns-repeated="1000"><text:p>x</text:p></table:table-cell></table:table-row>'
                       '</table:table></office:spreadsheet>')
    with pytest.raises(TooLarge, match="MAX_SHEET_CELLS"):
        inspect_file(repeated)


# -- conversion -----------------------------------------------------------------------------------------------

def test_docx_keeps_headings_lists_tables_and_images(tmp_path):
    _, steps, outs = convert(make_docx(tmp_path / "r.docx"), "openai/gpt-4o", tmp_path)
    text = text_of(outs)
    assert "# Quarterly report" in text and "## Details" in text
    assert "- first point" in text and "1. second point" in text
    assert "| region | sales |\n|---|---|\n| north | 42 |" in text
    images = [o for o in outs if o["kind"] == "image"]
    assert len(images) == 1 and images[0]["embedded"].startswith("word/media/") and images[0]["est_tokens"] > 0
    assert steps[0]["op"] == "office_convert" and "1 of 1 embedded images" in steps[0]["reason"]


def test_sheets_are_named_with_their_used_range(tmp_path):
    text = text_of(convert(make("xlsx", tmp_path), "openai/gpt-4o", tmp_path)[2])
    assert '## Sheet "Sales" (used range B2:C4)' in text and '## Sheet "Notes" (used range A1:A1)' in text
    assert "| north | 2.5 |" in text
    real = text_of(convert(DOCS / "testEXCEL.xls", "openai/gpt-4o", tmp_path)[2])
    assert '## Sheet "Feuil1" (used range A1:C22)' in real and "| 15 | 225 |" in real


def test_slides_keep_titles_bullets_notes_and_pictures(tmp_path):
    _, _, outs = convert(make("pptx", tmp_path), "anthropic/claude-sonnet-4-5", tmp_path)
    text = text_of(outs)
    assert "## Slide 1: Intro MARKER-PPTX" in text and "- point two" in text and "Notes: speaker notes here" in text
    assert "## Slide 2: Picture" in text
    assert [o["kind"] for o in outs] == ["document", "image"]  # Anthropic: a text/plain document, then the picture
    odp = text_of(convert(make("odp", tmp_path), "openai/gpt-4o", tmp_path)[2])
    assert "## Slide 1: Roadmap" in odp and "MARKER-ODP" in odp and "Notes: say hello" in odp


def test_opendocument_text_and_html(tmp_path):
    odt = text_of(convert(make("odt", tmp_path), "openai/gpt-4o", tmp_path)[2])
    assert "# Minutes" in odt and "Decided: MARKER-ODT  now." in odt and "- beta" in odt
    html = text_of(convert(make("html", tmp_path), "openai/gpt-4o", tmp_path)[2])
    assert "# Hello" in html and "MARKER-HTML" in html and "- a" in html and "var x" not in html


def test_images_respect_the_models_count_and_absence(tmp_path):
    path = make("pptx", tmp_path)
    facts = inspect_file(path)
    assert facts["images"] == 1
    step = plan_resource(facts, caps("mistral/pixtral-large-latest"), {"document_images": 1})[0]
    assert step["max_images"] == 1
    text_only = plan_resource(facts, caps("xai/grok-3-mini"), {})[0]
    assert "max_images" not in text_only and "takes no images" in text_only["reason"]


# -- plan per provider -------------------------------------------------------------------------------------------

def test_bedrock_takes_office_and_text_formats_natively(tmp_path):
    bedrock = "bedrock/amazon.nova-pro-v1:0"
    for ext in ("docx", "xlsx", "doc", "xls", "csv", "md", "html"):
        facts = inspect_file(make(ext, tmp_path))
        assert plan_resource(facts, caps(bedrock), {})[0]["op"] == "keep", ext
    facts = inspect_file(make("txt", tmp_path))  # cp1252: re-encoded as UTF-8 first
    assert plan_resource(facts, caps(bedrock), {})[0]["op"] == "text_utf8"
    for ext in ("pptx", "odt", "json"):
        step = plan_resource(inspect_file(make(ext, tmp_path)), caps(bedrock), {})[0]
        assert step["op"].endswith("_convert") and step["to"] == "text/markdown", ext


def test_legacy_formats_nobody_reads_are_415_naming_what_to_convert_to(tmp_path):
    facts = inspect_file(make("ppt", tmp_path))
    with pytest.raises(UnsupportedMedia, match="pptx or PDF"):
        plan_resource(facts, caps("bedrock/amazon.nova-pro-v1:0"), {})
    with pytest.raises(UnsupportedMedia, match="docx or PDF"):
        plan_resource(inspect_file(make("doc", tmp_path)), caps("openai/gpt-4o"), {})


def test_anthropic_and_gemini_read_text_documents(tmp_path):
    txt = inspect_file(make("md", tmp_path))
    assert plan_resource(txt, caps("gemini/gemini-2.5-flash"), {})[0]["op"] == "keep"
    step = plan_resource(txt, caps("anthropic/claude-sonnet-4-5"), {})[0]
    assert step["op"] == "text_convert" and step["to"] == "text/plain"
    assert plan_resource(txt, caps("openai/gpt-4o"), {})[0]["to"] == "text"


def test_token_estimate_counts_the_converted_text(tmp_path):
    path = make("xlsx", tmp_path)
    facts, steps, outs = convert(path, "openai/gpt-4o", tmp_path)
    resource = {"facts": facts, "outputs": [{k: v for k, v in o.items() if k != "path"} for o in outs]}
    estimate = usage_estimate({"request": {"messages": []}}, [resource])
    assert estimate["prompt_tokens_details"]["text"] == -(-len(text_of(outs)) // 4)
    native = inspect_file(path)
    keep = plan_resource(native, caps("bedrock/amazon.nova-pro-v1:0"), {})[0]
    assert keep["est_tokens"] == -(-native["chars"] // 4)


def test_native_strategy_refuses_what_cannot_go_natively(tmp_path):
    facts = inspect_file(make("pptx", tmp_path))
    with pytest.raises(Unprocessable, match="document_strategy=native"):
        plan_resource(facts, caps("openai/gpt-4o"), {"document_strategy": "native"})


def test_marker_of_every_convertible_format_survives_conversion(tmp_path):
    for ext, marker in MARKERS.items():
        if marker is None or ext == "doc":
            continue
        assert marker in text_of(convert(make(ext, tmp_path), "openai/gpt-4o", tmp_path)[2]), ext


def test_png_helper_is_a_real_png():
    assert png_bytes()[:4] == b"\x89PNG"


def test_text_bytes_claimed_as_an_image_stay_a_415(tmp_path):
    page = make_text(tmp_path / "error", "html")  # an HTML error page served where a picture was expected
    with pytest.raises(UnsupportedMedia, match="unrecognised"):
        inspect_file(page, declared_mime="image/png")
    with pytest.raises(UnsupportedMedia, match="unrecognised"):
        inspect_file(page, filename="https://example.com/cat.jpg")
    assert inspect_file(page, declared_mime="text/html")["mime"] == "text/html"


def test_a_text_file_over_the_cap_is_a_413_naming_it(tmp_path):
    from workers.media.limits import MAX_TEXT_BYTES

    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.write(b"a,b\n" * (MAX_TEXT_BYTES // 4 + 1))
    with pytest.raises(TooLarge, match="MAX_TEXT_BYTES"):
        inspect_file(big)


def test_macro_enabled_files_are_read_but_their_macros_never_sent(tmp_path):
    plain = make_docx(tmp_path / "plain.docx", image=False)
    docm = tmp_path / "macro.docm"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(docm, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"wordprocessingml.document.main+xml", b"placeholder")
                data = data.replace(b"application/vnd.openxmlformats-officedocument.placeholder",
                                    b"application/vnd.ms-word.document.macroEnabled.main+xml")
            dst.writestr(item, data)
        dst.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really vba")
    facts = inspect_file(docm)
    assert facts["mime"] == s.DOCX and facts["macros"] is True
    _, steps, outs = convert(docm, "bedrock/amazon.nova-pro-v1:0", tmp_path)
    assert steps[0]["op"] == "office_convert" and "macro-enabled" in steps[0]["reason"]
    assert "MARKER-DOCX" in text_of(outs)


def test_a_document_over_bedrocks_per_document_cap_is_converted(tmp_path):
    import os

    import docx
    from PIL import Image

    noise = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))  # incompressible: ~5.9 MB PNG
    noise.save(tmp_path / "noise.png")
    doc = docx.Document()
    doc.add_paragraph("Big one MARKER-BIG")
    doc.add_picture(str(tmp_path / "noise.png"))
    doc.save(tmp_path / "big.docx")
    facts = inspect_file(tmp_path / "big.docx")
    assert facts["bytes"] > 4_500_000
    step = plan_resource(facts, caps("bedrock/amazon.nova-pro-v1:0"), {})[0]
    assert step["op"] == "office_convert" and "4.5 MB per document" in step["reason"]
    with pytest.raises(TooLarge, match="document_strategy=native"):
        plan_resource(facts, caps("bedrock/amazon.nova-pro-v1:0"), {"document_strategy": "native"})
