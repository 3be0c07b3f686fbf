"""Reading YAML safely while remembering where every key and value came from.

PyYAML's safe loader still silently keeps the last of two duplicate keys and forgets line numbers
once objects are built. We compose the node graph ourselves so that every problem found later
(by pydantic or by the ownership checks) can be reported as ``file:line:col``; duplicate keys and
any non-standard tag (``!!python/object`` and friends) are rejected outright.

``${VAR}`` and ``${VAR:-default}`` are substituted in string scalars here, because only here do
we still know where the reference was written. Every substituted value is registered with
``detector.secrets`` so that logs and output can show it as ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from detector.errors import ConfigProblem
from detector.secrets import register_secret

__all__ = ["Locations", "YamlDocument", "load_yaml_file", "substitute_env"]

Loc = tuple[str | int, ...]

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Locations:
    """Where each path of a document was written: the value's position and, for mapping keys, the key's."""

    file: str
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def find(self, loc: Loc, *, prefer_key: bool = False) -> tuple[int | None, int | None]:
        """Line and column (1-based) of ``loc``, or of its nearest located ancestor."""
        probe = tuple(loc)
        while True:
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for candidates in table:
                if probe in candidates:
                    return candidates[probe]
            if not probe:
                return (None, None)
            probe = probe[:-1]

    def problem(
        self, loc: Loc, message: str, *, prefer_key: bool = False, severity: str = "error"
    ) -> ConfigProblem:
        line, column = self.find(loc, prefer_key=prefer_key)
        return ConfigProblem(self.file, line, column, message, severity)


@dataclass
class YamlDocument:
    data: Any
    locations: Locations
    problems: list[ConfigProblem]


def substitute_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``${VAR}``/``${VAR:-default}``; return the text and the problems (unset, empty, newline)."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or value == "":
            if default is not None:
                return default
            problems.append(
                f"environment variable {name} is not set"
                if value is None
                else f"environment variable {name} is empty"
            )
            return ""
        if "\n" in value or "\r" in value:
            problems.append(f"environment variable {name} contains a newline")
            return ""
        register_secret(value)
        return value

    return _ENV_REF.sub(replace, text), problems


class _Builder:
    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.locations = Locations(file)
        self.problems: list[ConfigProblem] = []
        self.env = env
        self._constructor = yaml.SafeLoader("")

    def _problem(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            ConfigProblem(self.locations.file, mark.line + 1, mark.column + 1, message)
        )

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.locations.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _STANDARD_TAGS:
            self._problem(node, f"unsupported YAML tag {node.tag!r}: only plain data is allowed")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        value = self._constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            value, problems = substitute_env(value, self.env)
            for message in problems:
                self._problem(node, message)
        return value

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(
                    key_node, "YAML merge keys (<<) are not supported; write the keys out"
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, "mapping keys must be plain scalars")
                continue
            key = str(self._constructor.construct_object(key_node))
            if key in result:
                first = self.locations.keys.get((*loc, key))
                where = f" (first defined on line {first[0]})" if first else ""
                self._problem(key_node, f"duplicate key {key!r}{where}")
                continue
            self.locations.keys[(*loc, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = self.build(value_node, (*loc, key))
        return result


def load_yaml_file(path: Path, env: Mapping[str, str] | None = None) -> YamlDocument:
    """Load one YAML document with locations; problems are collected, never raised."""
    file = str(path)
    locations = Locations(file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return YamlDocument(None, locations, [ConfigProblem(file, None, None, "file not found")])
    except (OSError, UnicodeDecodeError) as exc:
        return YamlDocument(
            None, locations, [ConfigProblem(file, None, None, f"cannot read file: {exc}")]
        )
    if not text.strip():
        return YamlDocument(None, locations, [ConfigProblem(file, 1, 1, "the file is empty")])
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        reason = exc.problem or str(exc)
        return YamlDocument(
            None, locations, [ConfigProblem(file, line, column, f"invalid YAML: {reason}")]
        )
    except yaml.YAMLError as exc:
        return YamlDocument(
            None, locations, [ConfigProblem(file, None, None, f"invalid YAML: {exc}")]
        )
    documents = [d for d in documents if d is not None]
    if not documents:
        return YamlDocument(None, locations, [ConfigProblem(file, 1, 1, "the file is empty")])
    if len(documents) > 1:
        mark = documents[1].start_mark
        return YamlDocument(
            None,
            locations,
            [
                ConfigProblem(
                    file, mark.line + 1, mark.column + 1, "only one YAML document is allowed"
                )
            ],
        )
    builder = _Builder(file, os.environ if env is None else env)
    data = builder.build(documents[0], ())
    return YamlDocument(data, builder.locations, builder.problems)
