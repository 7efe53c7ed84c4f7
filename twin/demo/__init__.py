"""The synthetic demo county: source files and the ``twin.toml`` that builds them.

:mod:`~twin.demo.generate` writes one county's sources, :mod:`~twin.demo.config` its
``twin.toml``, :mod:`~twin.demo.counties` several counties at once (scale tests);
:func:`build_with_history` builds it with two coverage versions (before and after
three new 5G sites).

Examples
--------
>>> from pathlib import Path
>>> from twin.demo import demo_config, generate_sources
>>> generate_sources(Path("demo-county"))  # doctest: +SKIP
>>> demo_config().region.crs
'EPSG:4549'
"""

from twin.demo._coverage_history import build_with_history
from twin.demo.config import demo_config
from twin.demo.generate import DEFAULT_SEED, GENERATOR_VERSION, generate_sources

__all__ = [
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "build_with_history",
    "counties",
    "demo_config",
    "generate",
    "generate_sources",
]
