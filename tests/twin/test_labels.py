"""Field labels, units and titles in Chinese and English, from the builders into the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.twin.test_villages_inputs import _built, sources  # noqa: F401  (fixture)
from tiles.catalog import FieldInfo, read_catalog


def test_villages_labels_units_groups_and_pinyin_are_published(
    tmp_path: Path,
    sources: Path,  # noqa: F811
) -> None:
    twin = _built(tmp_path, sources, "indicators")
    v = twin.layer("villages").set_index("village_code")
    # Chinese names get tone-less pinyin and initials to search by; the others none
    assert v.loc["V1", "pinyin"] == "dong cun" and v.loc["V1", "pinyin_initials"] == "dc"
    assert v.loc["V3", "pinyin"] == "xi cun" and v.loc["V3", "pinyin_initials"] == "xc"
    assert v.loc["V2", "pinyin"] == "" and v.loc["V4", "pinyin_initials"] == ""

    entry = read_catalog(twin.build_dir / "catalog.json").layers["villages"]
    info = entry.field_info
    # every field of the layer has a label in both languages
    assert set(info) == set(entry.fields)
    assert all(f.label["zh"] and f.label["en"] for f in info.values())
    pop = info["gov_population"]
    assert (pop.text("zh", ""), pop.text("en", ""), pop.unit_text("zh"), pop.group) == (
        "户籍人口",
        "Population",
        "人",
        "governance",
    )
    rate = info["gov_resolution_rate"]
    assert rate.unit == "%" and rate.scale == 100
    assert info["score_governance"].label == {"zh": "治理得分", "en": "Governance score"}
    assert info["score_total"].group == "overall"
    assert info["pinyin_initials"].label["zh"] == "拼音首字母"
    # the groups present, with their labels: the domain with indicators and the overall score
    assert entry.groups == {
        "governance": {"zh": "治理", "en": "Governance"},
        "overall": {"zh": "综合", "en": "Overall"},
    }
    assert entry.text("zh") == "行政村（五大领域）" and entry.text("en") == "Villages"
    population = next(f for f in twin.catalog.figures if f.name == "population")
    assert (population.text("zh"), population.unit_text("zh")) == ("户籍人口", "人")
    assert (population.text("en"), population.unit_text("en")) == ("Population", "people")


def test_a_title_from_twin_toml_wins_in_every_language(tmp_path: Path, sources: Path) -> None:  # noqa: F811
    twin = _built(tmp_path, sources, "boundaries")
    toml = twin.root / "twin.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + 'title = "Dorf"\ntitle_i18n = { zh = "村" }\n',
        encoding="utf-8",
    )
    report = type(twin).open(twin.root).build()
    # a title change republishes the layer
    assert "villages" in report.built
    entry = read_catalog(twin.build_dir / "catalog.json").layers["villages"]
    assert (entry.text("en"), entry.text("zh")) == ("Dorf", "村")


def test_roads_fields_are_labelled_with_units(tmp_path: Path, sources: Path) -> None:  # noqa: F811
    root = tmp_path / "ws"
    root.mkdir()
    (root / "sources").symlink_to(sources)
    (root / "twin.toml").write_text(
        '[region]\nname = "R"\ncrs = "EPSG:4549"\nlang = "zh"\n'
        '[sources.roads]\npath = "sources/roads.geojson"\n'
        '[layers.roads]\nbuilder = "roads"\ninputs = { osm = "roads" }\n',
        encoding="utf-8",
    )
    from twin.workspace import Twin

    Twin.open(root).build()
    data = json.loads((root / "build" / "catalog.json").read_text(encoding="utf-8"))
    assert data["region"]["lang"] == "zh"
    roads = data["layers"]["roads"]
    assert roads["title_i18n"] == {"en": "Roads", "zh": "道路"}
    info = roads["field_info"]
    assert info["road_class"]["label"] == {"zh": "道路等级", "en": "Road class"}
    assert info["length_m"]["unit"] == "m"
    assert info["maxspeed"]["unit"] == "km/h"
    assert set(info) <= set(roads["fields"])
    nodes = data["layers"]["roads_nodes"]
    assert nodes["title_i18n"]["zh"] == "道路节点" and "degree" in nodes["field_info"]


def test_old_catalogs_load_without_labels(tmp_path: Path) -> None:
    """A catalog written before field labels existed still loads; texts fall back."""
    old = {
        "format": 1,
        "workspace": "Old",
        "updated": "2026-01-01T00:00:00Z",
        "region": {"name": "Old", "crs": "EPSG:4549"},
        "figures": [{"name": "road_km", "label": "Road length", "value": 1.5, "unit": "km"}],
        "layers": {
            "roads": {
                "kind": "vector",
                "title": "Roads",
                "version": "v1",
                "artifacts": {"data": "roads/v1/data.parquet"},
                "crs": "EPSG:4549",
                "bounds": [119.9, 30.5, 120.0, 30.6],
                "fields": {"name": "string"},
                "provenance": {
                    "builder": "roads",
                    "builder_version": "1",
                    "fingerprint": "sha256:0",
                    "built_at": "2026-01-01T00:00:00Z",
                },
            }
        },
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    cat = read_catalog(path)
    entry = cat.layers["roads"]
    assert entry.field_info == {} and entry.title_i18n == {} and cat.region.lang is None
    assert entry.text("zh") == "Roads" and cat.figures[0].text("zh") == "Road length"
    # and what is written back round-trips with labels
    entry.field_info["name"] = FieldInfo(label={"zh": "名称", "en": "Name"})
    again = type(cat).model_validate_json(cat.model_dump_json())
    assert again.layers["roads"].field_info["name"].text("zh", "name") == "名称"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_region_lang_is_validated(tmp_path: Path, lang: str) -> None:
    from twin.config import RegionConfig

    assert RegionConfig(name="x", lang=lang).lang == lang
    with pytest.raises(ValueError, match="lang"):
        RegionConfig(name="x", lang="fr")


def test_twin_stats_speaks_the_workspace_language(tmp_path: Path, sources: Path) -> None:  # noqa: F811
    from typer.testing import CliRunner

    from twin.cli import app

    twin = _built(tmp_path, sources, "indicators")
    runner = CliRunner()
    english = runner.invoke(app, ["-w", str(twin.root), "stats"])
    assert english.exit_code == 0, english.output
    assert "key figures" in english.stdout and "Population" in english.stdout
    toml = twin.root / "twin.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            'crs = "EPSG:4549"\n', 'crs = "EPSG:4549"\nlang = "zh"\n', 1
        ),
        encoding="utf-8",
    )
    chinese = runner.invoke(app, ["-w", str(twin.root), "stats"])
    assert chinese.exit_code == 0, chinese.output
    assert "关键指标" in chinese.stdout and "户籍人口" in chinese.stdout
    assert "Population" not in chinese.stdout
    # the JSON keeps every language for programs to choose from
    data = json.loads(runner.invoke(app, ["-w", str(twin.root), "stats", "--json"]).stdout)
    population = next(f for f in data["figures"] if f["name"] == "population")
    assert population["label"] == "Population" and population["label_i18n"] == {"zh": "户籍人口"}
