"""twin.toml parsing: good configs load, each kind of mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.twin.conftest import TOML
from twin.config import dump_config, parse_config
from twin.errors import ConfigError
from twin.workspace import Twin


def test_parses_the_sample() -> None:
    cfg = parse_config(TOML)
    assert cfg.region.name == "Test County"
    assert cfg.layers["zones"].params == {"id": "code"}
    assert cfg.layers["dem"].tiles.style["rescale"] == [0, 500]


def test_dump_round_trips() -> None:
    cfg = parse_config(TOML)
    assert parse_config(dump_config(cfg)) == cfg


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace('crs = "EPSG:4549"', 'crs = "EPSG:4326"'),
            "region.crs: 'EPSG:4326' is not a projected CRS",
        ),
        (
            lambda t: t.replace('crs = "EPSG:4549"', 'crs = "EPSG:999999"'),
            "region.crs: 'EPSG:999999' is not a CRS",
        ),
        (
            lambda t: t.replace('name = "Test County"', 'name = "Test County"\ncolour = "red"'),
            "region.colour: unknown key",
        ),
        (lambda t: t.replace("[region]\n", "[regio]\n"), "regio: unknown key"),
        (
            lambda t: t.replace('inputs = { source = "zones" }', 'inputs = { source = "nope" }'),
            "layers.zones.inputs.source: no source named 'nope'",
        ),
        (
            lambda t: t.replace(
                'inputs = { source = "zones" }', 'inputs = { source = "layers.nope" }'
            ),
            "layers.zones.inputs.source: no layer named 'nope'",
        ),
        (
            lambda t: t.replace("[layers.zones]", "[layers.Zones]"),
            "layers.Zones: a layer name must match",
        ),
        (
            lambda t: t.replace("tiles = { style", "tiles = { minzoom = 9, maxzoom = 3, style"),
            "layers.dem.tiles: Value error, minzoom 9 is above maxzoom 3".replace(
                "Value error, ", ""
            ),
        ),
        (
            lambda t: t.replace("tiles = { style", "tiles = { maxzoom = 40, style"),
            "layers.dem.tiles.maxzoom: Input should be less than or equal to 30",
        ),
        (lambda t: t + "\n[layers.x]\ninputs = {}\n", "layers.x.builder: required key is missing"),
        (lambda t: t + "\n[[broken", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        parse_config(edit(TOML), origin="ws/twin.toml")
    text = str(info.value)
    assert text.startswith("ws/twin.toml: ")
    assert message in text
    assert "\n" not in text


def _write(workspace: Path, text: str) -> None:
    (workspace / "twin.toml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("sources/dem.tif", "sources/missing.tif"),
            "sources.dem.path: no such file",
        ),
        (
            lambda t: t.replace('builder = "raster"', 'builder = "lidar"'),
            "layers.dem.builder: unknown builder 'lidar'",
        ),
        (
            lambda t: t.replace('params = { id = "code" }', 'params = { idd = "code" }'),
            "layers.zones.params.idd: unknown parameter",
        ),
        (
            lambda t: t.replace("params = { resolution = 100", "params = { resolution = -5"),
            "layers.dem.params.resolution: Input should be greater than 0",
        ),
        (
            lambda t: t.replace('inputs = { source = "zones" }', "inputs = {}"),
            "layers.zones.inputs: missing 'source'",
        ),
        (
            lambda t: t.replace(
                'inputs = { source = "zones" }', 'inputs = { source = "zones", extra = "dem" }'
            ),
            "layers.zones.inputs.extra: unknown input",
        ),
        (
            lambda t: t.replace('boundary = "county"', 'boundary = "nowhere.gpkg"'),
            "region.boundary: 'nowhere.gpkg' is neither a source nor a file",
        ),
    ],
)
def test_workspace_checks_name_the_key(workspace: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    _write(workspace, edit(TOML))
    with pytest.raises(ConfigError) as info:
        Twin.open(workspace)
    assert message in str(info.value)


def test_dependency_cycle_is_named(workspace: Path) -> None:
    text = (
        TOML
        + """
[layers.a]
builder = "vector"
inputs = { source = "layers.b" }

[layers.b]
builder = "vector"
inputs = { source = "layers.a" }
"""
    )
    _write(workspace, text)
    with pytest.raises(ConfigError, match=r"dependency cycle: (a -> b -> a|b -> a -> b)"):
        Twin.open(workspace)


def test_a_glob_source_must_match_a_file(tmp_path: Path) -> None:
    """DEM tiles come as many files: a source path may be a glob, checked to match something."""

    (tmp_path / "sources" / "dem").mkdir(parents=True)
    (tmp_path / "twin.toml").write_text(
        '[region]\nname = "T"\n[sources.dem]\npath = "sources/dem/*.tif"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"sources\.dem\.path: .*\*\.tif: the pattern matches no"):
        Twin.open(tmp_path)
    (tmp_path / "sources" / "dem" / "n30e119.tif").write_bytes(b"")
    assert Twin.open(tmp_path).config.sources["dem"].path == "sources/dem/*.tif"
