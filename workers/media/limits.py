"""Decode limits: the ceilings every untrusted decoder runs under.

Pillow, pypdf, pdfium and FFmpeg have all had denial-of-service bugs, so Ferry
never asks them for more than these: a pixel budget checked from the header
(before any pixel is decoded), a page budget, a rendering budget and a
duration budget checked while packets are read. Crossing one is a 413 raised
early, with bounded memory, never a worker killed by the OOM killer.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

#: Largest canvas decoded (100 MP: a 12000x8000 photo fits, a 4-gigapixel bomb does not).
MAX_IMAGE_PIXELS = 100_000_000
#: Frames read from an animation when inspecting it (counting stops here).
MAX_FRAMES = 1000
#: Pages a PDF may have before Ferry refuses to open it at all.
MAX_PDF_PAGES = 2000
#: Text extracted per page (characters); protects against content-stream bombs.
MAX_PAGE_TEXT_CHARS = 100_000
#: Pixels one rendered PDF page may have.
MAX_RENDER_PIXELS = 16_000_000
#: Audio or video longer than this is refused while decoding (3 h).
MAX_MEDIA_SECONDS = 3 * 3600
#: Video frames: the largest picture decoded.
MAX_VIDEO_PIXELS = 40_000_000

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


@contextmanager
def bombs_are_errors() -> Iterator[None]:
    """Treat Pillow's DecompressionBombWarning (over MAX_IMAGE_PIXELS) as an error, like its 2x sibling."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield

# -- documents beyond PDF (issue 15): office files are zips of XML, text is decoded whole ------------------
#: Entries an office zip (docx, xlsx, pptx, odt, ods, odp) may have.
MAX_ZIP_ENTRIES = 5000
#: Uncompressed bytes of all entries together (declared in the central directory, and counted while read).
MAX_ZIP_UNCOMPRESSED = 256_000_000
#: Uncompressed / compressed size of one entry over 1 MB (a zip bomb inflates 1000x or more; XML about 10x).
MAX_ZIP_RATIO = 200
#: A text document (csv, html, md, txt, json, xml) larger than this is refused before decoding.
MAX_TEXT_BYTES = 50_000_000
#: Characters of text one document may convert to (the model would not read more).
MAX_CONVERTED_CHARS = 4_000_000
#: Cells of a workbook's used ranges together (a sheet that claims A1:XFD1048576 is refused unread).
MAX_SHEET_CELLS = 2_000_000
#: Slides of a deck, pages of an OpenDocument presentation.
MAX_SLIDES = 1000
#: Images taken out of one office document (beyond the model's own count per request).
MAX_DOCUMENT_IMAGES = 8
