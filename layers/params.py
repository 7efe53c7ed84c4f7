"""The base of every builder's parameters: one pydantic model per builder, defined here.

A builder's parameters are an edge of the house (``twin.toml`` names them,
notebooks pass them), so they are pydantic models; the same model is what
``twin`` validates a layer's ``params`` table with and what the functions of
:mod:`layers` read. A new parameter is added in one place.

Two ways in, one set of rules:

- ``Model.model_validate(mapping)`` (how ``twin`` reads ``twin.toml``) raises
  pydantic's :class:`~pydantic.ValidationError`, whose per-key errors ``twin``
  turns into ``twin.toml: layers.<name>.params.<key>: ...`` lines;
- ``Model(key=value, ...)`` (how Python callers build them) raises
  :class:`~layers.errors.ParameterError`, the error of this package, naming the
  parameter and the value it got.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from layers.errors import ParameterError


class Params(BaseModel):
    """Parameters of a builder: unknown keys are errors, values are checked on creation.

    Raises
    ------
    ParameterError
        From the constructor, naming the first parameter out of range and its value.
    """

    # frozen: a run reads its parameters, never changes them
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except PydanticValidationError as exc:
            raise ParameterError(describe(exc)) from None


def describe(exc: PydanticValidationError) -> str:
    """One line for the first error of a parameters model: ``key: message (got value)``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown parameter"
    msg = str(err["msg"]).removeprefix("Value error, ")
    got = f" (got {err['input']!r})" if loc and "input" in err else ""
    return f"{loc}: {msg}{got}" if loc else msg


__all__ = ["Params", "describe"]
