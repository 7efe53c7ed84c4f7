"""Static maps with matplotlib: a north arrow, a scale bar, axis labels in metres.

No extra dependency (no matplotlib-scalebar): a map in the working CRS is in
metres, so a round length and two rectangles make the scale bar.
"""

from __future__ import annotations

import math
from typing import Any


def add_north_arrow(ax: Any, xy: tuple[float, float] = (0.94, 0.86), size: float = 0.08) -> Any:
    """Draw a north arrow in axes fraction coordinates (the map must be north-up).

    Grid north of the working CRS (a Gauss-Krüger zone) is within a fraction of
    a degree of true north near its central meridian, so "up" is north.
    """
    x, y = xy
    return ax.annotate(
        "N",
        xy=(x, y + size),
        xytext=(x, y),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="top",
        fontsize=12,
        fontweight="bold",
        arrowprops={"facecolor": "black", "edgecolor": "black", "width": 4, "headwidth": 12},
        zorder=10,
    )


def nice_length(span: float, fraction: float = 0.25) -> float:
    """A round length (1, 2 or 5 times a power of ten) near ``fraction`` of ``span``.

    Examples
    --------
    >>> nice_length(40_000), nice_length(7_300), nice_length(900)
    (10000.0, 1000.0, 200.0)
    """
    if span <= 0 or not math.isfinite(span):
        raise ValueError(f"span must be a positive length, got {span}")
    target = span * fraction
    power = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * power <= target:
            return float(step * power)
    return float(power)  # pragma: no cover - step 1 always fits


def add_scale_bar(
    ax: Any, units_per_metre: float = 1.0, loc: tuple[float, float] = (0.05, 0.05)
) -> float:
    """Draw a two-segment black and white scale bar; return its length in metres.

    ``units_per_metre`` converts metres to the axes' data units (1 for a
    metric projected CRS such as EPSG:4549). ``loc`` is the lower left corner
    in axes fraction.
    """
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length_m = nice_length(abs(x1 - x0) / units_per_metre)
    length = length_m * units_per_metre
    height = abs(y1 - y0) * 0.012
    left = min(x0, x1) + abs(x1 - x0) * loc[0]
    bottom = min(y0, y1) + abs(y1 - y0) * loc[1]
    for i, color in enumerate(("black", "white")):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, bottom),
                length / 2,
                height,
                facecolor=color,
                edgecolor="black",
                linewidth=0.8,
                zorder=10,
            )
        )
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(
        left + length / 2,
        bottom + height * 1.6,
        label,
        ha="center",
        va="bottom",
        fontsize=9,
        zorder=10,
    )
    # Patches do not move the limits back: keep the map exactly where it was.
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return length_m


def decorate_map(ax: Any, title: str | None = None, crs: str | None = None) -> Any:
    """Make ``ax`` a static map: equal aspect, axis labels in metres, north arrow, scale bar.

    ``crs`` (such as ``"EPSG:4549"``) is named in the axis labels.
    """
    ax.set_aspect("equal")
    where = f" ({crs})" if crs else ""
    ax.set_xlabel(f"Easting, m{where}")
    ax.set_ylabel("Northing, m")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title)
    add_north_arrow(ax)
    add_scale_bar(ax)
    return ax
