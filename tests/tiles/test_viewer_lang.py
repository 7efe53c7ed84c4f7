"""The viewer's language: ?lang=, Accept-Language, the workspace's [region] lang, English."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.tiles.conftest import make_client
from tiles.catalog import FieldInfo, RegionInfo, read_catalog, write_catalog
from tiles.viewer import negotiate_lang


def _page_config(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script id="twin-config" type="application/json">(.*?)</script>', page, re.S
    )
    assert found is not None
    return json.loads(found.group(1))


def _html_lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', page)
    assert found is not None
    return found.group(1)


@pytest.fixture
def labelled(own_catalog: Path) -> Path:
    """The test workspace with labels on the roads' fields, a zh title and a zh figure label."""
    cat = read_catalog(own_catalog)
    roads = cat.layers["roads"]
    roads.title_i18n = {"en": "Roads", "zh": "道路"}
    roads.field_info = {
        "road_class": FieldInfo(label={"zh": "道路等级", "en": "Road class"}),
        "length_m": FieldInfo(label={"zh": "长度", "en": "Length"}, unit="m"),
        "share": FieldInfo(label={"zh": "比例", "en": "Share"}, unit="%", scale=100, group="g"),
    }
    roads.groups = {"g": {"zh": "组", "en": "Group"}}
    cat.figures[1].label_i18n = {"zh": "道路里程"}
    write_catalog(cat, own_catalog)
    return own_catalog


def _with_region_lang(catalog: Path, lang: str | None) -> None:
    cat = read_catalog(catalog)
    cat.region = RegionInfo(name="Test County", crs="EPSG:4549", lang=lang)
    write_catalog(cat, catalog)


@pytest.mark.parametrize(
    ("asked", "header", "default", "expected"),
    [
        ("zh", "en-GB,en;q=0.9", None, "zh"),  # the query wins
        ("en", "zh-CN", "zh", "en"),
        ("fr", "zh-CN", None, "zh"),  # an unknown ?lang= is ignored
        (None, "zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
        (None, "zh-Hans", None, "zh"),
        (None, "zh-TW", None, "zh"),
        (None, "en-US,en;q=0.9,zh-CN;q=0.8", "zh", "en"),
        (None, "fr-FR, en;q=0.5, zh-Hans;q=0.7", None, "zh"),  # q-values, not order
        (None, "zh;q=0, en", None, "en"),  # q=0: not acceptable
        (None, "en;q=0.8, zh;q=0.8", None, "en"),  # a tie: the first listed
        (None, "fr-FR, de", "zh", "zh"),  # nothing we speak: the workspace's
        (None, "*", None, "en"),
        (None, "", None, "en"),
        (None, None, None, "en"),
        (None, "zh;q=nonsense, en;q=0.1", None, "en"),
    ],
)
def test_negotiate_lang(asked: str | None, header: str | None, default: Any, expected: str) -> None:
    assert negotiate_lang(asked, header, default) == expected


def test_page_in_chinese_from_the_query(labelled: Path) -> None:
    with make_client(labelled) as client:
        res = client.get("/?lang=zh", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert res.status_code == 200
    assert "Accept-Language" in res.headers["vary"]
    page = res.text
    assert _html_lang(page) == "zh-CN"
    config = _page_config(page)
    assert config["lang"] == "zh"
    assert config["labels"]["roads"] == {
        "road_class": "道路等级",
        "length_m": "长度",
        "share": "比例",
    }
    assert config["units"]["roads"] == {"length_m": "m", "share": "%"}
    assert config["scales"]["roads"] == {"share": 100}
    assert config["groups"]["roads"] == {"share": "g"} and config["groupLabels"]["roads"] == {
        "g": "组"
    }
    (roads,) = [item for item in config["layers"] if item["name"] == "roads"]
    assert roads["title"] == "道路" and config["titles"]["roads"] == "道路"
    figures = {f["name"]: f for f in config["figures"]}
    assert figures["roads_km"]["label"] == "道路里程" and figures["roads_km"]["unit"] == "km"
    # a figure without a Chinese label keeps its own
    assert figures["villages"]["label"] == "Administrative villages"


def test_page_language_from_accept_language_then_the_workspace(labelled: Path) -> None:
    with make_client(labelled) as client:
        zh = client.get("/", headers={"Accept": "text/html", "Accept-Language": "zh-CN,zh;q=0.9"})
        en = client.get("/", headers={"Accept": "text/html", "Accept-Language": "en-US"})
        none = client.get("/", headers={"Accept": "text/html"})
    assert _page_config(zh.text)["lang"] == "zh" and _html_lang(zh.text) == "zh-CN"
    assert _page_config(en.text)["lang"] == "en" and _html_lang(en.text) == "en"
    assert _page_config(en.text)["labels"]["roads"]["road_class"] == "Road class"
    assert _page_config(none.text)["lang"] == "en"
    _with_region_lang(labelled, "zh")
    with make_client(labelled) as client:
        default = client.get("/", headers={"Accept": "text/html"})
        french = client.get("/", headers={"Accept": "text/html", "Accept-Language": "fr"})
        asked = client.get("/", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert _page_config(default.text)["lang"] == "zh"
    assert _page_config(french.text)["lang"] == "zh"
    assert _page_config(asked.text)["lang"] == "en"


def test_a_catalog_without_labels_gives_empty_tables(workspace_catalog: Path) -> None:
    with make_client(workspace_catalog) as client:
        config = _page_config(client.get("/?lang=zh", headers={"Accept": "text/html"}).text)
    assert config["lang"] == "zh"
    assert all(v == {} for v in config["labels"].values())
    (roads,) = [item for item in config["layers"] if item["name"] == "roads"]
    assert roads["title"] == read_catalog(workspace_catalog).layers["roads"].title
