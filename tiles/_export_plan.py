"""Which tiles of an archive hold which features (:mod:`tiles.export`).

An export finds the tiles that hold features of a layer, zoom by zoom in
tile-id order (:func:`occupied`: one STRtree query per layer over the tiles
its bounds, padded by the tile buffer, may reach), and hands them out in
chunks; whoever encodes a chunk finds each tile's features with one more
query per layer (:func:`plan_tiles`). A tile's features are the same in
whatever chunk it is, so chunks change no byte of the archive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

from tiles.pmtiles import zxy_to_tileids

if TYPE_CHECKING:
    from tiles.export import _Layer

#: one tile to encode: z, x, y and the (layer index, feature hits) of each layer in it
Tile = tuple[int, int, int, tuple[tuple[int, np.ndarray], ...]]


def tile_range(layer: _Layer, z: int) -> tuple[int, int, int, int]:
    """The tiles of ``layer`` at ``z`` that may hold features (min and max column and row,
    inclusive): those whose buffer reaches the layer's bounds."""
    o = layer.options
    _, _, sx, sy, _, _ = layer.grid.levels[z]
    pad_x, pad_y = sx * o.buffer / o.extent, sy * o.buffer / o.extent
    xmin, ymin, xmax, ymax = layer.bounds
    return layer.grid.tile_range((xmin - pad_x, ymin - pad_y, xmax + pad_x, ymax + pad_y), z)


def _boxes(layer: _Layer, z: int, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of the tiles ``xy`` are in ``layer``'s range at ``z``, and their buffered boxes."""
    o = layer.options
    x0, y0, x1, y1 = tile_range(layer, z)
    xs, ys = xy[:, 0], xy[:, 1]
    inside = np.flatnonzero((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))
    xs, ys = xs[inside], ys[inside]
    ox, oy, sx, sy, _, _ = layer.grid.levels[z]
    pad_x, pad_y = sx * o.buffer / o.extent, sy * o.buffer / o.extent
    boxes = shapely.box(
        ox + xs * sx - pad_x,
        oy - (ys + 1) * sy - pad_y,
        ox + (xs + 1) * sx + pad_x,
        oy - ys * sy + pad_y,
    )
    return inside, boxes


def hits(layer: _Layer, z: int, xy: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Which of the tiles ``xy`` of zoom ``z`` hold features of ``layer``, and which.

    ``xy`` holds a column and a row per tile, (n, 2). Returns the positions in
    ``xy`` of the tiles with features (ascending) and each one's feature hits
    (ascending): the features whose geometry intersects the tile with its buffer.
    """
    inside, boxes = _boxes(layer, z, xy)
    tile_idx, feat_idx = layer.source.tree.query(boxes, predicate="intersects")
    order = np.lexsort((feat_idx, tile_idx))
    tile_idx, feat_idx = tile_idx[order], feat_idx[order]
    present, starts = np.unique(tile_idx, return_index=True)
    found = np.split(feat_idx, starts[1:]) if len(present) else []
    return inside[present], found


def candidates(layers: tuple[_Layer, ...], z: int) -> np.ndarray:
    """The tiles of zoom ``z`` that may hold features of a layer, (n, 2), in tile-id order."""
    xs, ys = [], []
    for layer in layers:
        if layer.options.minzoom <= z <= layer.options.maxzoom:
            x0, y0, x1, y1 = tile_range(layer, z)
            grid_x, grid_y = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
            xs.append(grid_x.ravel())
            ys.append(grid_y.ravel())
    if not xs:
        return np.empty((0, 2), dtype=np.int64)
    x, y = np.concatenate(xs), np.concatenate(ys)
    _, first = np.unique(zxy_to_tileids(z, x, y), return_index=True)
    return np.stack([x[first], y[first]], axis=1)


def occupied(layers: tuple[_Layer, ...], z: int) -> np.ndarray:
    """The tiles of zoom ``z`` that hold features of a layer, (n, 2), in tile-id order."""
    xy = candidates(layers, z)
    keep = np.zeros(len(xy), dtype=bool)
    for layer in layers:
        if layer.options.minzoom <= z <= layer.options.maxzoom:
            inside, boxes = _boxes(layer, z, xy)
            tile_idx, _ = layer.source.tree.query(boxes, predicate="intersects")
            keep[inside[tile_idx]] = True
    return xy[keep]


def plan_tiles(layers: tuple[_Layer, ...], z: int, xy: np.ndarray) -> list[Tile]:
    """The tiles of ``xy`` (of zoom ``z``) with features, in order, each with its layers' hits."""
    parts: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(len(xy))]
    for i, layer in enumerate(layers):
        if layer.options.minzoom <= z <= layer.options.maxzoom:
            present, found = hits(layer, z, xy)
            for t, h in zip(present.tolist(), found, strict=True):
                parts[t].append((i, h))  # within a tile, layers in the order they were given
    return [(z, x, y, tuple(p)) for (x, y), p in zip(xy.tolist(), parts, strict=True) if p]


def plan_zoom(layers: tuple[_Layer, ...], z: int) -> list[Tile]:
    """The non-empty tiles of zoom ``z`` in tile-id order, each with its layers' hits."""
    return plan_tiles(layers, z, candidates(layers, z))
