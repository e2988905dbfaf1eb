"""A configuration mistake as one line: the key, where it was set, its value (secrets masked),
what is wrong and what to do; an unknown key gets a did-you-mean."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gateway.urls import hide_password

_SECRET_NAME = re.compile(r"secret|token|password|api_key|_key$")
_SHOWN_LENGTH = 60


@dataclass
class Origin:
    """Where the values came from: the file, and which keys a BOTGATE_* variable set."""

    file: str | None
    overrides: dict[tuple[str, str], str] = field(default_factory=dict)

    def where(self) -> str:
        return f" in {self.file}" if self.file else ""

    def key_source(self, loc: tuple[int | str, ...]) -> str:
        variable = self.overrides.get(loc) if len(loc) == 2 else None  # type: ignore[arg-type]
        return f" (from {variable})" if variable else self.where()


def describe(exc: ValidationError, root: type[BaseModel], origin: Origin) -> str:
    """The first problem in one line, and the keys of any others. An unknown key goes first:
    a misspelt key is also why the right one is missing."""
    errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
    line = _explain(errors[0], root, origin)
    others = [key_name(error["loc"]) or "(top level)" for error in errors[1:]]
    if others:
        line += f" (also wrong: {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})"
    return line


def key_name(loc: Sequence[int | str]) -> str:
    """`bots[0].generic.secret`: the key as a path through the file's tables."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name


def _explain(error: ErrorDetails, root: type[BaseModel], origin: Origin) -> str:
    loc = tuple(error["loc"])
    key = key_name(loc)
    if error["type"] == "extra_forbidden":
        return f"unknown key {key}{origin.where()}{_suggestion(loc, root)}"
    if error["type"] == "missing":
        return f"{key}{origin.where()} is missing; it is required"
    message = _message(error)
    if not loc:
        return f"configuration{origin.where()}: {message}"
    if isinstance(error["input"], dict):  # a table's own check: its message names the keys
        return f"[{key}]{origin.where()}: {message}"
    return f"{key} = {shown(loc, error['input'])}{origin.key_source(loc)}: {message}"


def _message(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        return f"must match {error.get('ctx', {}).get('pattern')}"
    return message[:1].lower() + message[1:]


def shown(loc: Sequence[int | str], value: Any) -> str:
    """The value as it may be printed: secrets as `***`, passwords out of URLs, cut short."""
    name = str(loc[-1]) if loc else ""
    if _SECRET_NAME.search(name) and value not in (None, ""):
        return "'***'"
    if isinstance(value, str) and "://" in value:
        value = hide_password(value)
    text = repr(value) if isinstance(value, str | int | float | bool) else type(value).__name__
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 4] + "...'"


def _suggestion(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    known = [name for name in _keys_at(loc[:-1], root) if name != "source"]
    if not known:
        return "; remove it"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    prefix = key_name(loc[:-1])
    if close:
        return f"; did you mean {prefix + '.' if prefix else ''}{close[0]}?"
    return f"; the keys here are: {', '.join(known)}"


def _keys_at(loc: Sequence[int | str], root: type[BaseModel]) -> list[str]:
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue  # an item of a list: its model is the list's
        info = model.model_fields.get(part)
        model = model_in(info.annotation) if info is not None else None
    return list(model.model_fields) if model is not None else []


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X`, `X | None`, `list[X]` or `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, dict, Union, UnionType):
        for argument in get_args(annotation):
            found = model_in(argument)
            if found is not None:
                return found
    return None
