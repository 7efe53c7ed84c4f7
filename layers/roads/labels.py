"""Labels and units of the fields the roads builder makes (edges, nodes, zones).

See :mod:`layers.labels`.
"""

from __future__ import annotations

from layers.labels import Label

#: Each road class (:data:`layers.roads.ROAD_CLASSES`) in Chinese and English.
ROAD_CLASS_LABELS: dict[str, tuple[str, str]] = {
    "motorway": ("高速公路", "Motorway"),
    "trunk": ("快速路", "Trunk road"),
    "primary": ("主干道", "Primary road"),
    "secondary": ("次干道", "Secondary road"),
    "tertiary": ("支路", "Tertiary road"),
    "motorway_link": ("高速匝道", "Motorway link"),
    "trunk_link": ("快速路匝道", "Trunk link"),
    "primary_link": ("主干道连接线", "Primary link"),
    "secondary_link": ("次干道连接线", "Secondary link"),
    "tertiary_link": ("支路连接线", "Tertiary link"),
    "unclassified": ("乡村道路", "Rural road"),
    "residential": ("居住区道路", "Residential road"),
    "service": ("服务道路", "Service road"),
    "track": ("机耕路", "Track"),
    "cycleway": ("自行车道", "Cycleway"),
    "footway": ("人行道", "Footway"),
    "path": ("小路", "Path"),
    "other": ("其他", "Other"),
}

#: The edges of the network (the roads layer).
ROAD_FIELDS: dict[str, Label] = {
    "edge_id": Label("路段编号", "Segment id"),
    "u": Label("起点节点", "From node"),
    "v": Label("终点节点", "To node"),
    "key": Label("平行路段序号", "Parallel segment key"),
    "osm_id": Label("OSM 编号", "OSM id"),
    "highway": Label("OSM 道路类型", "OSM highway"),
    "road_class": Label("道路等级", "Road class"),
    "name": Label("道路名称", "Road name"),
    "ref": Label("道路编号", "Road number"),
    "lanes": Label("车道数", "Lanes"),
    "maxspeed": Label("限速", "Speed limit", "km/h"),
    "oneway": Label("单行", "One way"),
    "direction": Label("通行方向", "Direction"),
    "bridge": Label("桥梁", "Bridge"),
    "tunnel": Label("隧道", "Tunnel"),
    "surface": Label("路面", "Surface"),
    "layer": Label("层次", "Layer"),
    "length_m": Label("长度", "Length", "m"),
    "component": Label("连通分量", "Network component"),
    "speed_kph": Label("通行速度", "Speed", "km/h"),
    "travel_time_s": Label("通行时间", "Travel time", "s"),
    "covered_m": Label("5G 覆盖长度", "5G-covered length", "m"),
}

#: The nodes of the network (``roads_nodes``).
NODE_FIELDS: dict[str, Label] = {
    "node_id": Label("节点编号", "Node id"),
    "degree": Label("连接路段数", "Degree"),
    "merged": Label("合并节点数", "Merged nodes"),
    "component": Label("连通分量", "Network component"),
}

#: Road length and density per zone (``roads_zones``), ``km_<class>`` for every class.
ZONE_FIELDS: dict[str, Label] = {
    "road_km": Label("道路里程", "Road length", "km"),
    "density_km_per_km2": Label("路网密度", "Road density", "km/km²"),
    "covered_km": Label("5G 覆盖道路里程", "5G-covered road length", "km"),
    "covered_share": Label("5G 覆盖道路比例", "5G-covered share of roads", "%", scale=100),
    **{
        f"km_{c}": Label(f"{zh}里程", f"{en} length", "km")
        for c, (zh, en) in ROAD_CLASS_LABELS.items()
    },
}

__all__ = ["NODE_FIELDS", "ROAD_CLASS_LABELS", "ROAD_FIELDS", "ZONE_FIELDS"]
