"""Tables as county offices keep them: CSV/TSV and Excel, Chinese headers, codes with zeros.

- Coordinate columns are found by the usual English and Chinese headers
  (``lon``/``lat``, ``经度``/``纬度``, ``东经``/``北纬``, ``X坐标``/``Y坐标`` ...),
  whatever their case, spaces, or a unit in brackets (``经度(°)``, ``lat [deg]``).
- Code and id columns (``id``, ``code``, ``*_id``, ``*_code``, ``编码``,
  ``代码``, ``编号``, ``行政区划代码`` ...) are read as text, so that village code
  ``00123`` stays ``00123`` and joins to the boundary that carries it.
- The text encoding is declared on the source or found from the bytes
  (:mod:`layers.encodings`).
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.encodings import not_decodable, resolve_encoding
from layers.errors import SourceError

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")

#: Headers recognised as longitude / x, in order of preference (compared by :func:`header_key`).
X_COLUMNS = ("lon", "lng", "long", "longitude", "x", "easting", "经度", "东经", "x坐标")
#: Headers recognised as latitude / y, in order of preference.
Y_COLUMNS = ("lat", "latitude", "y", "northing", "纬度", "北纬", "y坐标")

#: Parts of a header that make it a code column (read as text).
CODE_WORDS = ("编码", "代码", "编号")

_UNIT = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")


def header_key(name: object) -> str:
    """A header as compared with :data:`X_COLUMNS`: lower case, no unit in brackets, no spaces."""
    return re.sub(r"\s+", "", _UNIT.sub("", str(name))).lower()


def is_code_column(name: object) -> bool:
    """Whether column ``name`` holds codes or ids, to be kept as text."""
    key = header_key(name)
    return (
        key in ("id", "code") or key.endswith(("_id", "_code")) or any(w in key for w in CODE_WORDS)
    )


def read_text_table(
    path: Path, encoding: str | None = None, sheet: str | None = None
) -> pd.DataFrame:
    """A CSV/TSV or Excel sheet as a DataFrame, code columns as text.

    Raises
    ------
    SourceError
        Naming the file when it cannot be read or decoded.
    """
    suffix = path.suffix.lower()
    enc = encoding
    try:
        if suffix in EXCEL_SUFFIXES:
            head = pd.read_excel(path, sheet_name=sheet or 0, nrows=0)
            dtype = {c: str for c in head.columns if is_code_column(c)}
            return pd.read_excel(path, sheet_name=sheet or 0, dtype=dtype)
        enc = resolve_encoding(path, encoding) or "UTF-8"
        sep = "\t" if suffix == ".tsv" else ","
        head = pd.read_csv(path, sep=sep, encoding=enc, nrows=0)
        dtype = {c: str for c in head.columns if is_code_column(c)}
        return pd.read_csv(path, sep=sep, encoding=enc, dtype=dtype)
    except UnicodeDecodeError:
        raise SourceError(not_decodable(path, enc)) from None
    except LookupError as exc:
        raise SourceError(f"{path}: {exc}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read as a table: {_first_line(exc)}") from None


def has_point_columns(df: pd.DataFrame) -> bool:
    """Whether ``df`` has recognisable coordinate columns (a table of points)."""
    keys = {header_key(c) for c in df.columns}
    return any(k in keys for k in X_COLUMNS) and any(k in keys for k in Y_COLUMNS)


def pick_column(
    df: pd.DataFrame, wanted: str | None, candidates: tuple[str, ...], path: Path, what: str
) -> str:
    """The column named ``wanted``, or the first header matching ``candidates``."""
    if wanted is not None:
        if wanted not in df.columns:
            raise SourceError(f"{path}: no column {wanted!r} for {what}")
        return wanted
    keys: dict[str, str] = {}
    for c in df.columns:
        keys.setdefault(header_key(c), str(c))
    for name in candidates:
        if name in keys:
            return keys[name]
    raise SourceError(
        f"{path}: no {what} column; expected one of {', '.join(candidates)} or set it on the source"
    )


def points_from_table(
    df: pd.DataFrame, path: Path, x: str | None, y: str | None, first_line: int = 2
) -> gpd.GeoDataFrame:
    """Points from ``df``'s coordinate columns (which are dropped), without a CRS yet.

    ``first_line`` is the line of the file the first row is on (after the header), for messages.
    """
    xcol = pick_column(df, x, X_COLUMNS, path, "x (longitude)")
    ycol = pick_column(df, y, Y_COLUMNS, path, "y (latitude)")
    xs = pd.to_numeric(df[xcol], errors="coerce")
    ys = pd.to_numeric(df[ycol], errors="coerce")
    bad = xs.isna() | ys.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + first_line
        raise SourceError(
            f"{path}: line {row}: columns {xcol!r}/{ycol!r} must hold numbers "
            f"({int(bad.sum())} rows do not)"
        )
    return gpd.GeoDataFrame(df.drop(columns=[xcol, ycol]), geometry=gpd.points_from_xy(xs, ys))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
