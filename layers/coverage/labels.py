"""Labels and units of the fields and rasters the coverage build makes.

See :mod:`layers.labels`.
"""

from __future__ import annotations

from layers.labels import Label

#: The rasters: best-server SS-RSRP, SS-SINR and the serving cell.
RSRP = Label("5G 参考信号接收功率 (SS-RSRP)", "5G SS-RSRP", "dBm")
SINR = Label("5G 信干噪比 (SS-SINR)", "5G SS-SINR", "dB")
SERVING = Label("5G 服务小区", "5G serving cell")

#: The cells (``coverage_cells``; the cell table's columns, also of a cell-site source).
CELL_FIELDS: dict[str, Label] = {
    "cell_id": Label("小区编号", "Cell id"),
    "site_id": Label("站点编号", "Site id"),
    "band": Label("频段", "Band"),
    "scenario": Label("传播场景", "Scenario"),
    "freq_mhz": Label("频率", "Frequency", "MHz"),
    "bandwidth_mhz": Label("带宽", "Bandwidth", "MHz"),
    "height_m": Label("天线挂高", "Antenna height", "m"),
    "azimuth_deg": Label("方位角", "Azimuth", "°"),
    "downtilt_deg": Label("机械下倾角", "Downtilt", "°"),
    "etilt_deg": Label("电子下倾角", "Electrical tilt", "°"),
    "tx_power_dbm": Label("发射功率", "Transmit power", "dBm"),
    "power_re_dbm": Label("每资源粒子功率", "Power per resource element", "dBm"),
    "gain_dbi": Label("天线增益", "Antenna gain", "dBi"),
    "scs_khz": Label("子载波间隔", "Subcarrier spacing", "kHz"),
    "index": Label("服务小区栅格值", "Serving-raster value"),
    "served_km2": Label("服务面积", "Area served", "km²"),
    "calib_offset_db": Label("校准偏移", "Calibration offset", "dB"),
}

#: The drive-test points (``coverage_measurements``).
MEASUREMENT_FIELDS: dict[str, Label] = {
    "rsrp_dbm": Label("实测 RSRP", "Measured RSRP", "dBm"),
    "predicted_dbm": Label("预测 RSRP", "Predicted RSRP", "dBm"),
    "cell_id": Label("服务小区", "Serving cell"),
    "distance_m": Label("到服务小区距离", "Distance to serving cell", "m"),
    "error_before_db": Label("校准前误差", "Error before calibration", "dB"),
    "error_after_db": Label("校准后误差 (留出)", "Error after calibration (held out)", "dB"),
}

#: The coverage areas (``coverage_polygons``).
POLYGON_FIELDS: dict[str, Label] = {
    "metric": Label("指标", "Metric"),
    "threshold": Label("门限", "Threshold"),
    "unit": Label("单位", "Unit"),
}

#: Coverage per zone (``coverage_zones``, ``villages``' ``inf_5g_share``).
ZONE_FIELDS: dict[str, Label] = {
    "covered_km2": Label("5G 覆盖面积", "5G-covered area", "km²"),
    "coverage_share_pct": Label("5G 覆盖率", "5G coverage share", "%"),
}

__all__ = [
    "CELL_FIELDS",
    "MEASUREMENT_FIELDS",
    "POLYGON_FIELDS",
    "RSRP",
    "SERVING",
    "SINR",
    "ZONE_FIELDS",
]
