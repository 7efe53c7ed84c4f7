"""What the fields builders make mean, in Chinese and English: labels and units.

Pure data: each builder's module keeps a table of the fields it makes
(:data:`layers.roads.labels.ROAD_FIELDS` ...) as :class:`Label` s; the
workspace copies the labels of the fields a layer really has into its catalog
entry, where the viewer and the notebooks read them.

Examples
--------
>>> NAME.zh, NAME.en
('名称', 'Name')
>>> pick({"name": NAME, "gone": Label("无", "Gone")}, ["name", "geometry"])
{'name': Label(zh='名称', en='Name', unit='', unit_zh='', scale=1.0, group=None)}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: a Chinese character (compiled at first use, by re's cache: ~3 ms every command would pay)
_CJK = r"[\u3400-\u9fff\uf900-\ufaff]"


@dataclass(frozen=True)
class Label:
    """The label and unit of one field.

    Parameters
    ----------
    zh, en
        The label in Chinese and in English.
    unit
        The unit as written in English (``%``, ``km``, ``km/km²``, ``dBm``, ``10k CNY``).
    unit_zh
        The unit in Chinese where it is a word (``万元``, ``人``); empty: as ``unit``.
    scale
        What a value is multiplied by to read in ``unit`` (a 0-1 share shown in ``%``: 100).
    group
        The group the field belongs to (a village indicator's domain).
    """

    zh: str
    en: str
    unit: str = ""
    unit_zh: str = ""
    scale: float = 1.0
    group: str | None = None


#: Fields many layers have.
NAME = Label("名称", "Name")
COMMON_FIELDS: dict[str, Label] = {
    "name": NAME,
    "name_en": Label("英文名称", "English name"),
    "pinyin": Label("拼音", "Pinyin"),
    "pinyin_initials": Label("拼音首字母", "Pinyin initials"),
    "area_km2": Label("面积", "Area", "km²"),
    "synthetic": Label("模拟数据", "Synthetic data"),
}


def pick(table: Mapping[str, Label], columns: Iterable[str]) -> dict[str, Label]:
    """The labels in ``table`` (and :data:`COMMON_FIELDS`) of the ``columns`` a layer has."""
    known = {**COMMON_FIELDS, **table}
    return {c: known[c] for c in columns if c in known}


def has_chinese(text: object) -> bool:
    """Whether ``text`` holds a Chinese character."""
    return isinstance(text, str) and re.search(_CJK, text) is not None


def pinyin(text: str) -> tuple[str, str]:
    """Tone-less lowercase pinyin of ``text``, syllables space-separated, and its initials.

    Other characters (latin letters, digits) are kept, lowercased, as words of their own.

    Examples
    --------
    >>> pinyin("武康街道")
    ('wu kang jie dao', 'wkjd')
    >>> pinyin("绿水村2组")
    ('lv shui cun 2 zu', 'lsc2z')
    """
    from pypinyin import Style, lazy_pinyin

    words = [w.strip().lower() for w in lazy_pinyin(text, style=Style.NORMAL)]
    words = [part for w in words for part in w.split() if part]
    initials = "".join(w[0] if w.isalpha() else w for w in words)
    return " ".join(words), initials


__all__ = ["COMMON_FIELDS", "NAME", "Label", "has_chinese", "pick", "pinyin"]
