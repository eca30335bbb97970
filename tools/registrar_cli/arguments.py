"""Command-line arguments checked by a pydantic model: a violation is one line naming the argument."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from registrar.errors import RegistrarError, truncate

Model = TypeVar("Model", bound=BaseModel)


class InvalidArgumentError(RegistrarError, ValueError):
    """A command-line argument breaks its rule; the message names the argument, the value and the rule."""


def validated(model: type[Model], names: Mapping[str, str], **values: Any) -> Model:
    """``model`` built from ``values``, or :class:`InvalidArgumentError` naming the first argument that breaks a rule.

    Parameters
    ----------
    model
        The arguments' pydantic model.
    names
        Each field's name on the command line (``group`` -> ``GROUP``, ``limit`` -> ``--limit``).
    values
        The parsed arguments, by field.
    """
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        message = str(first["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        argument = names.get(field, field)
        raise InvalidArgumentError(f"{argument} {truncate(first.get('input'))}: {message}") from None
