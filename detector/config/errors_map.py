"""Turning pydantic's validation errors into located, readable config problems.

Pydantic reports a location as a tuple path (``('systems', 'erp', 'connecter')``); the YAML
source knows where each path was written. For an unknown key we also walk the model types along
the path to find the keys that *are* allowed there and suggest the nearest one.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any, Union

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from detector.config.yamlsource import Loc, Locations
from detector.errors import ConfigProblem

__all__ = ["allowed_keys", "problems_from_errors", "suggest"]


def suggest(word: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` when a candidate is close to ``word``, else empty."""
    by_folded = {c.casefold(): c for c in candidates}
    match = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f" (did you mean {by_folded[match[0]]!r}?)" if match else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found: list[type[BaseModel]] = []
        for arm in typing.get_args(annotation):
            found.extend(_models_in(arm))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _step(annotation: Any, part: str | int, data: Any) -> tuple[Any, Any]:
    """Follow one path element through a type annotation (and the data alongside it)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _step(typing.get_args(annotation)[0], part, data)
    if origin in (Union, types.UnionType):
        for arm in typing.get_args(annotation):
            if arm is type(None):
                continue
            if typing.get_origin(arm) in (dict, list) or _models_in(arm):
                return _step(arm, part, data)
        return (None, None)
    child = (
        data[part]
        if isinstance(data, dict) and part in data
        else (
            data[part]
            if isinstance(data, list) and isinstance(part, int) and part < len(data)
            else None
        )
    )
    if origin is dict:
        return (typing.get_args(annotation)[1], child)
    if origin is list:
        return (typing.get_args(annotation)[0], child)
    models = _models_in(annotation)
    if models:
        model = _pick(models, data)
        info = model.model_fields.get(str(part)) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        return (info.annotation if info else None, child)
    return (None, None)


def _pick(models: list[type[BaseModel]], data: Any) -> type[BaseModel]:
    """The union arm a mapping is meant to be: by its ``type`` discriminator when it has one."""
    if isinstance(data, dict) and "type" in data:
        for model in models:
            field = model.model_fields.get("type")
            if field is not None and data["type"] in typing.get_args(field.annotation):
                return model
    return models[0]


def allowed_keys(root: type[BaseModel], loc: Loc, data: Any) -> list[str]:
    """Keys the model at ``loc`` accepts (aliases where set)."""
    annotation: Any = root
    current = data
    for part in loc:
        annotation, current = _step(annotation, part, current)
        if annotation is None:
            return []
    models = _models_in(annotation)
    if not models:
        return []
    model = _pick(models, current)
    return [info.alias or name for name, info in model.model_fields.items()]


_TYPE_TAGS = {"str", "int", "float", "bool", "decimal", "none", "dict", "list"}


def _is_type_tag(part: str) -> bool:
    return (
        part.lower() in _TYPE_TAGS
        or "[" in part
        or part.startswith("function-")
        or part.endswith("Model")
        or part in ("log", "webhook", "email", "pagerduty")
    )


def _data_path(loc: tuple[Any, ...], data: Any) -> Loc:
    """``loc`` without the union-arm tags pydantic inserts ('str', 'FieldMappingModel'...)."""
    kept: list[str | int] = []
    current = data
    for part in loc:
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        ):
            kept.append(part)
            current = current[part]
        elif isinstance(part, str) and _is_type_tag(part):
            continue
        else:
            kept.append(part)
            current = None
    return tuple(kept)


def _other_arm(loc: Loc, error: ErrorDetails, located: list[tuple[Loc, ErrorDetails]]) -> bool:
    """A type error from a union arm the value was clearly not meant for (a deeper error exists)."""
    if not error["type"].endswith("_type"):
        return False
    return any(len(other) > len(loc) and other[: len(loc)] == loc for other, _ in located)


def _describe(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def problems_from_errors(
    errors: list[ErrorDetails],
    locations: Locations,
    *,
    root: type[BaseModel],
    data: Any,
    prefix: Loc = (),
) -> list[ConfigProblem]:
    """One located problem per pydantic error; never echoes the offending input (it may be a secret)."""
    problems: list[ConfigProblem] = []
    seen: set[tuple[Loc, str]] = set()
    located = [(_data_path(tuple(e["loc"]), data), e) for e in errors]
    for loc, error in located:
        if _other_arm(loc, error, located):
            continue
        full = (*prefix, *loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            hint = suggest(key, allowed_keys(root, loc[:-1], data))
            problem = locations.problem(full, f"unknown key {key!r}{hint}", prefer_key=True)
        elif kind == "missing":
            problem = locations.problem(
                full[:-1], f"missing required key {str(full[-1])!r}", prefer_key=True
            )
        elif kind in ("value_error", "assertion_error"):
            message = str(error["msg"]).removeprefix("Value error, ")
            where = f"{_describe(full)}: " if full else ""
            problem = locations.problem(full, f"{where}{message}")
        else:
            problem = locations.problem(full, f"{_describe(full)}: {error['msg']}")
        marker = (full, problem.message)
        if marker not in seen:
            seen.add(marker)
            problems.append(problem)
    return problems
