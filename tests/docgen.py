"""Office and text documents made for tests: each carries a marker string the tests look for in what a
provider simulator received. OpenDocument files are assembled by hand (mimetype first, stored; content.xml)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).parent / "documents"  # real files from Apache Tika's corpus (README there)


def png_bytes(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def make_docx(path: Path, marker: str = "MARKER-DOCX", image: bool = True) -> Path:
    import docx

    doc = docx.Document()
    doc.add_heading("Quarterly report", 1)
    doc.add_paragraph(f"Revenue grew {marker}.")
    doc.add_heading("Details", 2)
    doc.add_paragraph("first point", style="List Bullet")
    doc.add_paragraph("second point", style="List Number")
    table = doc.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "region", (0, 1): "sales", (1, 0): "north", (1, 1): "42"}.items():
        table.cell(r, c).text = text
    if image:
        doc.add_picture(io.BytesIO(png_bytes()))
    doc.save(path)
    return path


def make_xlsx(path: Path, marker: str = "MARKER-XLSX") -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sales"
    ws["B2"], ws["C2"] = "region", marker
    ws["B3"], ws["C3"] = "north", 2.5
    ws["B4"], ws["C4"] = "south", 7
    wb.create_sheet("Notes")["A1"] = "see Sales"
    wb.save(path)
    return path


def make_pptx(path: Path, marker: str = "MARKER-PPTX") -> Path:
    import pptx

    prs = pptx.Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = f"Intro {marker}"
    body = slide.placeholders[1].text_frame
    body.text = "point one"
    body.add_paragraph().text = "point two"
    slide.notes_slide.notes_text_frame.text = "speaker notes here"
    second = prs.slides.add_slide(prs.slide_layouts[5])
    second.shapes.title.text = "Picture"
    second.shapes.add_picture(io.BytesIO(png_bytes((80, 60), (20, 90, 200))), 0, 0)
    prs.save(path)
    return path


_ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
           'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
           'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"')
ODF_MIMES = {"odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
             "odp": "application/vnd.oasis.opendocument.presentation"}


def odf_zip(path: Path, kind: str, body: str, extra: dict[str, bytes] | None = None) -> Path:
    content = f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODF_NS}><office:body>{body}' \
              '</office:body></office:document-content>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), ODF_MIMES[kind], compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest '
                    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def make_odt(path: Path, marker: str = "MARKER-ODT") -> Path:
    return odf_zip(path, "odt", '<office:text><text:h text:outline-level="1">Minutes</text:h>'
                   f'<text:p>Decided: {marker}<text:s text:c="2"/>now.</text:p>'
                   '<text:list><text:list-item><text:p>alpha</text:p></text:list-item>'
                   '<text:list-item><text:p>beta</text:p></text:list-item></text:list></office:text>',
                   {"Pictures/logo.png": png_bytes()})


def make_ods(path: Path, marker: str = "MARKER-ODS", empty_rows: int = 1048000) -> Path:
    rows = ('<table:table-row><table:table-cell><text:p>item</text:p></table:table-cell>'
            f'<table:table-cell><text:p>{marker}</text:p></table:table-cell></table:table-row>'
            '<table:table-row><table:table-cell table:number-columns-repeated="2"><text:p>7</text:p>'
            '</table:table-cell><table:table-cell table:number-columns-repeated="16000"/></table:table-row>'
            f'<table:table-row table:number-rows-repeated="{empty_rows}"><table:table-cell/></table:table-row>')
    return odf_zip(path, "ods", f'<office:spreadsheet><table:table table:name="Budget">{rows}</table:table>'
                   '</office:spreadsheet>')


def make_odp(path: Path, marker: str = "MARKER-ODP") -> Path:
    page = ('<draw:page draw:name="p1"><draw:frame presentation:class="title"><draw:text-box><text:p>Roadmap</text:p>'
            f'</draw:text-box></draw:frame><draw:frame presentation:class="outline"><draw:text-box><text:p>{marker}</text:p>'
            '</draw:text-box></draw:frame><presentation:notes><draw:frame><draw:text-box><text:p>say hello</text:p>'
            '</draw:text-box></draw:frame></presentation:notes></draw:page>')
    return odf_zip(path, "odp", f"<office:presentation>{page}</office:presentation>")


TEXTS = {
    "csv": ("region,sales\nnorth,MARKER-CSV\nsouth,7\n", "utf-8"),
    "tsv": ("region\tsales\nnorth\tMARKER-TSV\nsouth\t7\n", "utf-8"),
    "md": ("# Notes\n\nSome *text* with MARKER-MD.\n\n- one\n- two\n", "utf-8"),
    "txt": ("Grüße aus Köln: MARKER-TXT, schöne Straße, déjà vu, Ærø.\n" * 3, "cp1252"),
    "html": ("<!doctype html><html><head><title>t</title><script>var x=1;</script></head><body><h1>Hello</h1>"
             "<p>Para MARKER-HTML</p><ul><li>a</li><li>b</li></ul></body></html>", "utf-8"),
    "json": ('{"name": "MARKER-JSON", "items": [1, 2, 3]}', "utf-8"),
    "xml": ('<?xml version="1.0"?><catalog><book id="1">MARKER-XML</book></catalog>', "utf-8"),
}


def make_text(path: Path, ext: str) -> Path:
    text, encoding = TEXTS[ext]
    path.write_bytes(text.encode(encoding))
    return path


MAKERS = {"docx": make_docx, "xlsx": make_xlsx, "pptx": make_pptx, "odt": make_odt, "ods": make_ods, "odp": make_odp}


def make(ext: str, folder: Path) -> Path:
    """A document of format ``ext`` in ``folder`` (generated, or the real legacy files from tests/documents)."""
    path = folder / f"sample.{ext}"
    if ext in MAKERS:
        return MAKERS[ext](path)
    if ext in TEXTS:
        return make_text(path, ext)
    real = {"doc": "testWORD.doc", "xls": "testEXCEL.xls", "ppt": "testPPT.ppt"}[ext]
    path.write_bytes((DOCS / real).read_bytes())
    return path


#: What each format's converted or native content must contain where it arrives.
MARKERS = {"docx": "MARKER-DOCX", "xlsx": "MARKER-XLSX", "pptx": "MARKER-PPTX", "odt": "MARKER-ODT",
           "ods": "MARKER-ODS", "odp": "MARKER-ODP", "csv": "MARKER-CSV", "tsv": "MARKER-TSV", "md": "MARKER-MD",
           "txt": "MARKER-TXT", "html": "MARKER-HTML", "json": "MARKER-JSON", "xml": "MARKER-XML",
           "doc": "Sample Word Document", "xls": "Numbers and their Squares", "ppt": None}
