"""Parameters of a coverage run: the link budget, the model's settings and the outputs'.

One type, :class:`CoverageParams`, for everything a coverage layer takes: the
``params`` table of a ``coverage`` layer in ``twin.toml`` is validated with it,
:class:`~layers.coverage.model.CoverageModel` reads its link budget from it, and
:func:`~layers.coverage.pipeline.run_coverage` its grid, thresholds and table options.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layers.coverage.terrain import K_FACTOR
from layers.params import Params

#: The usual RSRP bands of a coverage map, dBm: the polygons' default thresholds.
RSRP_BANDS_DBM = (-80.0, -90.0, -100.0, -105.0, -110.0)

Scenario = Literal["RMa", "UMa", "UMi"]


class CoverageParams(Params):
    """Link budget, model settings and outputs of a coverage run.

    Units are those of ``twin.toml``: metres, dB, dBm, and kilometres for
    ``max_radius_km`` (:attr:`max_radius_m` gives it in metres).

    The model (:class:`~layers.coverage.model.CoverageModel`) reads
    ``rx_height_m``, the losses and gains, ``noise_figure_db``, ``cell_load``,
    ``los_mode``, ``max_radius_km``, ``min_rsrp_dbm``, ``noise_margin_db``, the RMa
    environment, ``k_factor`` and ``terrain``. ``los_mode="probability"`` weighs
    the LOS and NLOS losses by the standard's LOS probability where the terrain
    is clear; ``"terrain"`` takes clear terrain as line of sight.
    ``min_rsrp_dbm=None`` drops signals ``noise_margin_db`` below the thermal
    noise per resource element of the cell's sub-carrier spacing (with the noise
    figure), where a signal no longer matters for SINR (10 dB: one such
    interferer moves SINR by at most 0.4 dB).
    """

    resolution: float = Field(20.0, gt=0, description="pixel size of the output grid, m")
    threshold_dbm: float = Field(-105.0, description="RSRP that counts as covered, dBm")
    sinr_threshold_db: float = Field(-3.0, description="SINR that counts as covered, dB")
    rsrp_bands_dbm: list[float] = Field(
        default_factory=lambda: list(RSRP_BANDS_DBM), description="polygon thresholds, dBm"
    )
    rx_height_m: float = Field(1.5, gt=0, description="receiver height above ground, m")
    max_radius_km: float | None = Field(
        None, gt=0, description="radius computed per cell (default: the model's 5 km range)"
    )
    min_rsrp_dbm: float | None = Field(
        None, description="weaker signals are dropped, dBm (default: noise - noise_margin_db)"
    )
    noise_margin_db: float = Field(10.0, ge=0, description="see min_rsrp_dbm")
    noise_figure_db: float = Field(7.0, ge=0, description="receiver noise figure, dB")
    cable_loss_db: float = Field(0.0, ge=0)
    body_loss_db: float = Field(0.0, ge=0)
    rx_gain_dbi: float = 0.0
    antenna_gain_dbi: float = Field(8.0, description="boresight gain where the table has none")
    etilt_deg: float = Field(0.0, description="electrical down-tilt where the table has none")
    cell_load: float = Field(1.0, ge=0, le=1, description="interfering share of neighbour REs")
    los_mode: Literal["probability", "terrain"] = "probability"
    scenario: Scenario | None = Field(None, description="force one scenario for every cell")
    default_scenario: Scenario = Field("UMa", description="for cells without a scenario")
    scenario_by_band: dict[str, Scenario] = Field(
        default_factory=dict, description="band -> scenario, overriding the table"
    )
    building_height_m: float = Field(5.0, description="RMa average building height, m")
    street_width_m: float = Field(20.0, description="RMa average street width, m")
    k_factor: float = Field(K_FACTOR, gt=0, description="effective earth radius factor")
    terrain: bool = Field(True, description="use the DEM for line of sight and diffraction")
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column -> column name in the sites table"
    )
    outside: Literal["error", "skip"] = Field("error", description="cells off the DEM")
    zone_id: str | None = Field(None, description="column naming each zone")
    workers: int | None = Field(None, ge=1, description="worker processes (default: up to 2)")
    # -- land cover (the ``landcover`` input; see layers.coverage.clutter) --
    clutter_column: str = Field("class", description="land-cover polygons' class column")
    clutter_classes: dict[str, str] = Field(
        default_factory=dict, description="land-cover code -> class name (coded classes)"
    )
    clutter_loss_db: dict[str, float] = Field(
        default_factory=dict, description="class -> extra loss, dB, over the default table"
    )
    clutter_height_m: dict[str, float] = Field(
        default_factory=dict, description="class -> clutter height, m, over the default table"
    )
    clutter_heights: bool = Field(
        False, description="add the classes' clutter heights to the terrain profile"
    )
    # Measurements (the builder's optional ``measurements`` input): see layers.coverage.measured
    measurement_column: str | None = Field(None, description="RSRP column of the measurements")
    calibrate: bool = Field(False, description="fit and apply offsets to the measurements")
    calibration_min_points: int = Field(30, ge=1, description="fewer: class/cell not fitted")
    calibration_bound_db: float = Field(20.0, gt=0, description="offsets bounded to +-this, dB")
    calibration_folds: int = Field(5, ge=2, description="cross-validation folds (by route)")
    reliability: float = Field(0.95, gt=0, lt=1, description="location reliability of the share")

    @property
    def max_radius_m(self) -> float | None:
        """``max_radius_km`` in metres (``None``: the model's NLOS validity limit, 5 km)."""
        return None if self.max_radius_km is None else self.max_radius_km * 1000


__all__ = ["RSRP_BANDS_DBM", "CoverageParams", "Scenario"]
