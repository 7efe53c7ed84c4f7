"""Property-based tests: arbitrary geometries into the MVT encoder and the vector builder.

Whatever shape comes in (collinear rings, spikes, self-intersections, tiny and
huge extents, holes, multi-parts), the encoder's output decodes with an
independent decoder and stays inside the buffered tile, and the vector
builder's cleaning either raises a one-line :class:`LayerError` or returns
valid, non-empty, finite geometries in the working CRS.
"""

from __future__ import annotations

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.errors import LayerError
from layers.vector import clean_vector
from tests.reliability._mvt_check import check_tile
from tiles.mvt import LayerEncoder, encode_tile, to_tile_coords

EXTENT, BUFFER = 4096, 64
BOUNDS = (0.0, 0.0, 1000.0, 1000.0)

# Coordinates rounded to 1 mm, as a projected layer's are: values like 1e-300 make GEOS
# warn about division by zero, and no real layer holds one.
coord = st.floats(-500.0, 1500.0, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))
point = st.tuples(coord, coord)
ring = st.lists(point, min_size=3, max_size=12)


@st.composite
def geometries(draw: st.DrawFn) -> shapely.Geometry:
    kind = draw(st.sampled_from(["point", "line", "polygon", "holed", "multi", "bowtie"]))
    if kind == "point":
        return shapely.Point(draw(point))
    if kind == "line":
        return shapely.LineString(draw(st.lists(point, min_size=2, max_size=12)))
    if kind == "polygon":
        return shapely.Polygon(draw(ring))
    if kind == "holed":
        cx, cy = draw(point)
        r = draw(st.floats(1.0, 400.0))
        return shapely.Point(cx, cy).buffer(r).difference(shapely.Point(cx, cy).buffer(r / 2))
    if kind == "multi":
        return shapely.MultiPolygon(
            [
                shapely.Point(p).buffer(draw(st.floats(0.1, 80)))
                for p in draw(st.lists(point, min_size=1, max_size=4))
            ]
        ).buffer(0)
    (x, y), s = draw(point), draw(st.floats(0.01, 300.0))
    return shapely.Polygon([(x, y), (x + s, y + s), (x + s, y), (x, y + s)])  # self-crossing


@given(
    geoms=st.lists(geometries(), min_size=1, max_size=8), scale=st.sampled_from([1e-3, 1.0, 1e4])
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
def test_encoder_output_always_decodes_inside_the_buffer(
    geoms: list[shapely.Geometry], scale: float
) -> None:
    # Artifacts hold valid geometries (builders check it); invalid ones: see the xfail below.
    geoms = [shapely.make_valid(g) for g in geoms]
    arr = np.array(
        [shapely.affinity.scale(g, scale, scale, origin=(0, 0)) for g in geoms], dtype=object
    )
    bounds = tuple(b * scale for b in BOUNDS)
    tile_geoms = to_tile_coords(arr, bounds, extent=EXTENT, buffer=BUFFER)
    enc = LayerEncoder("fuzz", extent=EXTENT)
    drawn = enc.add_many(
        tile_geoms, range(len(arr)), [[("i", i), ("s", "é<")] for i in range(len(arr))]
    )
    data = encode_tile([enc])
    if drawn == 0:
        assert data == b""
        return
    assert check_tile(data) == []  # winding, command counts, tags (tests/reliability/_mvt_check)
    layer = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})["fuzz"]
    assert layer["extent"] == EXTENT and len(layer["features"]) == drawn
    for feature in layer["features"]:
        assert feature["properties"]["s"] == "é<" and feature["properties"]["i"] == feature["id"]
        shape = shapely.geometry.shape(feature["geometry"])
        xy = shapely.get_coordinates(shape)
        assert len(xy) > 0
        assert (xy >= -BUFFER - 1).all() and (xy <= EXTENT + BUFFER + 1).all(), xy
        if shape.geom_type in ("Polygon", "MultiPolygon"):
            assert shape.area > 0


# Found by the property above before tiles/mvt.py repaired such rings (a GEOS error: a 500).
def test_encoder_survives_a_self_crossing_polygon_at_the_edge() -> None:
    bowtie = shapely.Polygon([(-10, 0), (-9, 1), (-9, 0), (-10, 1)])
    out = to_tile_coords(np.array([bowtie], dtype=object), BOUNDS, extent=EXTENT, buffer=BUFFER)
    assert shapely.is_valid(out).all()


def test_encoder_is_quiet_on_coordinates_near_zero() -> None:
    """Found by hypothesis: GEOS snapping divided by zero on subnormal coordinates."""
    tiny = shapely.Polygon(
        [(2.2250738585072014e-308, 90), (4.46e-309, -284.84), (-2.6e-184, -284.84)]
    )
    out = to_tile_coords(np.array([tiny], dtype=object), BOUNDS, extent=EXTENT, buffer=BUFFER)
    assert shapely.is_valid(out).all()


# The working CRS's neighbourhood of the test workspace (EPSG:4549 metres).
X0, Y0 = 480_000.0, 3_380_000.0


@given(geoms=st.lists(geometries(), min_size=1, max_size=6), ids=st.booleans())
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
def test_vector_builder_cleaning_gives_valid_output_or_one_line_error(
    geoms: list[shapely.Geometry], ids: bool
) -> None:
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    gdf = gpd.GeoDataFrame(
        {"code": [f"c{i % 3}" for i in range(len(moved))]}, geometry=moved, crs="EPSG:4549"
    )
    try:
        out, report = clean_vector(
            gdf, "EPSG:4549", id_column="code" if ids else None, origin="fuzz.gpkg"
        )
    except LayerError as exc:
        assert str(exc).startswith("fuzz.gpkg: ") and "\n" not in str(exc)
        return
    assert out.crs.to_epsg() == 4549
    assert len(out) + report.dropped_empty + report.dropped_invalid == len(gdf)
    geom = out.geometry.values
    assert shapely.is_valid(geom).all() and not shapely.is_empty(geom).any()
    assert np.isfinite(shapely.get_coordinates(geom)).all()
    # repair keeps each row's dimension: a polygon never comes back as a line
    kept = gdf.geometry[~(gdf.geometry.is_empty | gdf.geometry.isna())]
    assert set(shapely.get_dimensions(geom)) <= set(shapely.get_dimensions(kept.values))
