"""Zip containers read under caps: office files (OOXML, OpenDocument) are zips of XML, so a hostile one can
be a zip bomb (a few KB inflating to gigabytes), a million tiny entries, or XML with entity expansion.

:func:`check_zip` reads the central directory (entry count, declared uncompressed total, per-entry ratio,
encrypted entries) and then inflates every entry once, counting the bytes actually produced, so a lying
central directory is caught while streaming too. :func:`read_member` reads one entry with its own cap and
:func:`parse_xml` parses it with defusedxml (no DTDs, no entities, no external references).
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.core.errors import TooLarge, UnsupportedMedia, Unprocessable
from workers.media.limits import MAX_ZIP_ENTRIES, MAX_ZIP_RATIO, MAX_ZIP_UNCOMPRESSED

_CHUNK = 1 << 16
#: Entries smaller than this are not held to the ratio (tiny XML parts compress 50x legitimately).
_RATIO_FLOOR = 1_000_000


@dataclass(frozen=True)
class ZipSummary:
    names: list[str]
    entries: int
    uncompressed: int


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnsupportedMedia(f"the zip container is corrupt: {exc}") from exc


def _check_directory(infos: list[zipfile.ZipInfo], what: str) -> int:
    if len(infos) > MAX_ZIP_ENTRIES:
        raise TooLarge(f"the {what} has {len(infos)} zip entries; Ferry reads at most {MAX_ZIP_ENTRIES}")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise Unprocessable(f"the {what} is encrypted (entry {info.filename} is password protected); "
                                "send it without the password")
        total += info.file_size
        if total > MAX_ZIP_UNCOMPRESSED:
            raise TooLarge(f"the {what} inflates to more than {MAX_ZIP_UNCOMPRESSED} bytes "
                           f"(zip central directory); Ferry's cap is {MAX_ZIP_UNCOMPRESSED}")
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise TooLarge(f"zip entry {info.filename} of the {what} inflates {info.file_size // max(info.compress_size, 1)}x "
                           f"({info.compress_size} -> {info.file_size} bytes); Ferry's cap is {MAX_ZIP_RATIO}x "
                           "(a zip bomb)")
    return total


def check_zip(path: Path, what: str = "document") -> ZipSummary:
    """Caps from the central directory, then every entry inflated once and counted (413 / 415 / 422)."""
    with open_zip(path) as zf:
        infos = zf.infolist()
        declared = _check_directory(infos, what)
        produced = 0
        for info in infos:
            if info.is_dir():
                continue
            entry = 0
            try:
                with zf.open(info) as fh:
                    while chunk := fh.read(_CHUNK):
                        entry += len(chunk)
                        produced += len(chunk)
                        if produced > MAX_ZIP_UNCOMPRESSED:
                            raise TooLarge(f"the {what} inflates to more than {MAX_ZIP_UNCOMPRESSED} bytes; "
                                           f"Ferry's cap is {MAX_ZIP_UNCOMPRESSED}")
                        if entry > _RATIO_FLOOR and entry > MAX_ZIP_RATIO * max(info.compress_size, 1):
                            raise TooLarge(f"zip entry {info.filename} of the {what} inflates over {MAX_ZIP_RATIO}x "
                                           "while read (a zip bomb)")
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
                raise UnsupportedMedia(f"zip entry {info.filename} of the {what} is corrupt: {exc}") from exc
        return ZipSummary([i.filename for i in infos], len(infos), max(declared, produced))


def read_member(zf: zipfile.ZipFile, name: str, cap: int = MAX_ZIP_UNCOMPRESSED) -> bytes:
    """One entry's bytes, refused past ``cap`` while inflating."""
    try:
        with zf.open(name) as fh:
            data = fh.read(cap + 1)
    except KeyError as exc:
        raise UnsupportedMedia(f"the document has no {name}") from exc
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise UnsupportedMedia(f"zip entry {name} is corrupt: {exc}") from exc
    if len(data) > cap:
        raise TooLarge(f"zip entry {name} inflates to more than {cap} bytes")
    return data


def parse_xml(data: bytes, name: str) -> Any:
    """An ElementTree element, parsed by defusedxml: an entity declaration or an external reference is a 422
    (a bare DOCTYPE, as LibreOffice writes for embedded formulas, is allowed and never loaded)."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Unprocessable(f"{name} declares XML entities or external references ({type(exc).__name__}); "
                            "Ferry does not expand them") from exc
    except SafeET.ParseError as exc:
        raise UnsupportedMedia(f"{name} is not well-formed XML: {exc}") from exc


def check_xml_parts(zf: zipfile.ZipFile, names: list[str]) -> None:
    """Refuse any XML part whose prolog declares entities (billion laughs, external entities) before the
    office libraries (lxml with ``resolve_entities=False``, openpyxl through defusedxml) see it."""
    for name in names:
        if not name.endswith((".xml", ".rels")):
            continue
        with zf.open(name) as fh:
            head = fh.read(65536)  # the prolog, where a DOCTYPE's entity declarations must be
        if b"<!ENTITY" in head:
            raise Unprocessable(f"{name} declares XML entities; Ferry does not expand them")
