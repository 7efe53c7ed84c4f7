"""Roads: a clean, routable road network from OSM or any line source.

- :mod:`layers.roads.network`: where the network is built: :func:`read_roads` (either
  reader), :class:`RoadNetwork`, :func:`validate_network`, :func:`to_networkx`, per-zone
  figures and 5G coverage along roads;
- :mod:`layers.roads.osm`: ways of an OSM file read with pyosmium;
- :mod:`layers.roads.filters`: the osmnx-style network types (``drive``, ``walk`` ...);
- :mod:`layers.roads.params`: :class:`RoadsParams`, the parameters of a ``roads`` layer.

Private modules hold the stages: tag normalisation (``_tags``), line sources
(``_lines``), partitions of the ways (``_parts``), splitting at intersections
(``_topology``), simplification (``_simplify``) and zone figures (``_zones``).
"""

from layers.roads.network import (
    RoadNetwork,
    edge_coverage,
    is_osm_path,
    read_line_roads,
    read_osm_roads,
    read_roads,
    to_networkx,
    validate_network,
    zone_figures,
)
from layers.roads.params import RoadsParams

__all__ = [
    "RoadNetwork",
    "RoadsParams",
    "edge_coverage",
    "filters",
    "is_osm_path",
    "labels",
    "osm",
    "read_line_roads",
    "read_osm_roads",
    "read_roads",
    "to_networkx",
    "validate_network",
    "zone_figures",
]
