"""Raster.plot() draws with the layer's style hints."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from tests.twin.conftest import TOML
from twin.workspace import Twin


def test_plot_uses_colormap_and_rescale_hints(workspace: Path) -> None:
    import matplotlib.pyplot as plt

    # rio-tiler's lower-case colormap name, as the coverage layer's style hint has it.
    text = TOML.replace('colormap = "terrain"', 'colormap = "rdylgn"')
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    twin = Twin.open(workspace)
    twin.build(["dem"])
    dem = twin.layer("dem")
    ax = dem.plot()
    image = ax.get_images()[0]
    assert image.get_cmap().name == "RdYlGn"
    assert image.get_clim() == (0.0, 500.0)
    assert ax.get_title() == dem.entry.title
    plt.close(ax.figure)
