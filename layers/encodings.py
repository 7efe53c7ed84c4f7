"""Which text encoding a source is in: declared, or found from its bytes.

Files from Chinese county offices are often GBK: shapefiles exported by
Windows GIS desktops without a ``.cpg``, CSVs saved by Excel. GDAL reads a
shapefile without ``.cpg`` (and without a code page in the DBF header) as
ISO-8859-1, which turns 吴兴区 into ``ÎâÐËÇø`` without a word; pandas fails on
the first GBK byte. Here the bytes themselves decide: text that is valid
UTF-8 is UTF-8, anything else is tried as GB18030 (a superset of GBK and
GB2312) with a :class:`~layers.errors.SourceEncodingWarning` saying how to pin
it, and text that is neither is refused with the key to set.
"""

from __future__ import annotations

import codecs
import logging
import struct
import warnings
from pathlib import Path

from layers.errors import SourceEncodingWarning, SourceError

log = logging.getLogger(__name__)

__all__ = [
    "DECLARABLE",
    "FALLBACK",
    "check_encoding",
    "dbf_text",
    "not_decodable",
    "resolve_encoding",
    "sniff",
]

#: What undeclared text that is not UTF-8 is read as: GB18030 decodes GBK and GB2312 alike.
FALLBACK = "GB18030"

#: Files whose text encoding a source may declare: any other declares its own.
DECLARABLE = (".shp", ".dbf", ".csv", ".tsv", ".txt", ".tab", ".mif")

_CHUNK = 1 << 20
#: DBF language driver ids GDAL turns into a code page itself (0: none declared).
_NO_LDID = 0


def check_encoding(name: str) -> str:
    """Python's canonical name of codec ``name`` (``cp936`` -> ``gbk``), else :class:`LookupError`.

    The canonical names are also what GDAL's iconv knows (``latin-1`` is not, ``iso8859-1`` is).
    """
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise LookupError(
            f"{name!r} is not a text encoding Python knows (e.g. GBK, UTF-8)"
        ) from None


def resolve_encoding(path: str | Path, declared: str | None = None) -> str | None:
    """The encoding to read ``path``'s text with; None when its reader should decide.

    Parameters
    ----------
    path
        A shapefile (``.shp``/``.dbf``) or a delimited text file (``.csv``/``.tsv``/``.txt``)
        is checked; a MapInfo file takes the declared encoding only. Other files
        declare their own (GeoPackage and GeoJSON are UTF-8): None.
    declared
        The encoding set on the source, which wins for the files in :data:`DECLARABLE`.

    Warns
    -----
    SourceEncodingWarning
        When the text is not UTF-8, none is declared, and it reads as GB18030.

    Raises
    ------
    SourceError
        When the text is neither UTF-8 nor GB18030 and no encoding is declared.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DECLARABLE:
        return None  # UTF-8 by definition (GeoPackage, GeoJSON ...) or binary (Excel)
    if declared is not None:
        return check_encoding(declared)
    if suffix in (".shp", ".dbf"):
        dbf = _sibling(path, ".dbf")
        if dbf is None or _sibling(path, ".cpg") is not None:
            return None  # GDAL reads the .cpg (or reports the missing .dbf)
        data, ldid = dbf_text(dbf)
        if ldid != _NO_LDID:
            return None  # the DBF names its code page and GDAL honours it
        found = sniff(data)
    elif suffix in (".csv", ".tsv", ".txt"):
        found = _text_file_encoding(path) or (FALLBACK if _decodes(path, FALLBACK) else None)
    else:
        return None
    if found in ("UTF-8", "utf-8-sig"):
        log.debug("%s: no encoding declared; its text is %s", path, found)
        return found
    if found is None:
        raise SourceError(
            f"{path}: text is neither UTF-8 nor GB18030 and no encoding is declared; "
            'set encoding = "..." on the source (e.g. "GBK", "Big5", "latin-1")'
        )
    cpg = " (.cpg)" if suffix in (".shp", ".dbf") else ""
    log.info("%s: no encoding declared%s; guessed %s from its bytes", path, cpg, found)
    warnings.warn(
        f"{path}: text is not UTF-8 and no encoding is declared{cpg}; read as {found} "
        f'— set encoding = "GBK" on the source to pin it',
        SourceEncodingWarning,
        stacklevel=2,
    )
    return found


def not_decodable(path: str | Path, encoding: str | None) -> str:
    """The one line for text that does not decode as the encoding it is read with."""
    return (
        f"{path}: text does not decode as {encoding or 'UTF-8'}; "
        'check encoding = "..." on the source'
    )


def sniff(data: bytes) -> str | None:
    """``"UTF-8"`` or :data:`FALLBACK` for the first that decodes ``data`` whole, else None."""
    for name in ("UTF-8", FALLBACK):
        try:
            data.decode(name)
        except UnicodeDecodeError:
            continue
        return name
    return None


def dbf_text(path: Path) -> tuple[bytes, int]:
    """The bytes of a DBF's field names and character fields, and its language driver id.

    A dBASE III file is a 32-byte header (record count at 4, header and
    record lengths at 8 and 10, language driver id at 29), 32-byte field
    descriptors up to a 0x0D byte (name in 11 bytes, type at 11, length at
    16), then fixed-length records each starting with a deletion flag. Only
    what the encoding applies to is returned, newline-separated.

    Raises
    ------
    SourceError
        When the file is too short to be a DBF.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) < 32:
        raise SourceError(f"{path}: too short to be a DBF file")
    count, header_len, record_len = struct.unpack_from("<IHH", raw, 4)
    ldid = raw[29]
    names: list[bytes] = []
    fields: list[tuple[int, int]] = []  # (offset in record, length) of character fields
    offset = 1  # the deletion flag
    pos = 32
    while pos + 32 <= min(header_len, len(raw)) and raw[pos] != 0x0D:
        desc = raw[pos : pos + 32]
        names.append(desc[:11].split(b"\x00", 1)[0])
        length = desc[16]
        if desc[11:12] == b"C":
            length += desc[17] << 8  # long character fields keep the high byte in "decimals"
            fields.append((offset, length))
        offset += length
        pos += 32
    parts = names
    for i in range(count):
        start = header_len + i * record_len
        record = raw[start : start + record_len]
        if not record:
            break
        parts.extend(record[o : o + n].rstrip(b" \x00") for o, n in fields)
    return b"\n".join(parts), ldid


def _sibling(path: Path, suffix: str) -> Path | None:
    """``path`` with ``suffix`` in any case (``ROADS.DBF`` beside ``roads.shp``), if it exists."""
    want = path.with_suffix(suffix).name.lower()
    try:
        return next(p for p in path.parent.iterdir() if p.name.lower() == want and p.is_file())
    except (StopIteration, OSError):
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text_file_encoding(path: Path) -> str:
    """``"utf-8-sig"`` (a BOM, as Excel writes), ``"UTF-8"``, or ``""`` when not UTF-8.

    Read by chunks: a CSV may be large, and its first GBK byte may be far down.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            first = fh.read(_CHUNK)
            bom = first.startswith(codecs.BOM_UTF8)
            chunk = first
            while chunk:
                decoder.decode(chunk)
                chunk = fh.read(_CHUNK)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return ""
    except OSError:
        return "UTF-8"  # the reader names the problem
    return "utf-8-sig" if bom else "UTF-8"


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
