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


class SourceWarning(UserWarning):
    """A source was read, but with a guess the user should confirm (and can pin).

    Readers emit these with :func:`warnings.warn`; whoever runs a build
    records them as build warnings.
    """


class SourceEncodingWarning(SourceWarning):
    """A source's text was decoded with a guessed encoding (no encoding declared)."""
