"""Errors of the layer builders and readers."""

from __future__ import annotations


class LayerError(Exception):
    """Base class of every error raised by :mod:`layers`."""


class SourceError(LayerError):
    """A GIS source cannot be read or does not hold what was expected."""


class ValidationError(LayerError):
    """A builder's output breaks a rule (CRS, ids, geometry, value range)."""


class ParameterError(LayerError):
    """A builder parameter is out of range or inconsistent."""
