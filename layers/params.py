"""The base of every builder's parameters: one pydantic model per builder, defined in layers.

A builder's parameters are an edge of the house (``twin.toml`` names them,
notebooks pass them), so they are pydantic models: the same model is what
``twin`` validates a layer's ``params`` table with (its per-key errors become
``twin.toml: layers.<name>.params.<key>: ...`` lines) and what the functions
of :mod:`layers` read. A new parameter is added in one place.

Built in Python, a model with a value out of range raises pydantic's
:class:`~pydantic.ValidationError` (a :class:`ValueError`) naming the parameter.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Parameters of a builder: unknown keys are errors, and a run never changes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)


__all__ = ["Params"]
