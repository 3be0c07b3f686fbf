"""Loading a config file into a validated, resolved ``Config``, reporting every problem at once.

Order of work: YAML (with locations and ``${ENV}``) -> pydantic models -> connectors resolved and
their options validated -> ownership map (inline or spreadsheet) -> semantic checks and lint.
Each stage keeps going after a problem so that one ``validate`` shows everything wrong.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from connectors import registry
from connectors.base import Connector, ConnectorOptions, FieldSpec, ResourceSpec
from detector.compare import COMPARE_TYPES
from detector.config.checks import check_ownership
from detector.config.errors_map import problems_from_errors, suggest
from detector.config.models import (
    AlertSinkModel,
    ConfigModel,
    EntityModel,
    FieldMappingModel,
    LogSinkModel,
    SettingsModel,
    SystemMappingModel,
)
from detector.config.ownership import (
    Origin,
    OwnershipEntry,
    OwnershipMap,
    load_ownership_csv,
    rule_part,
)
from detector.config.yamlsource import Locations, load_yaml_file
from detector.errors import ConfigError, ConfigProblem, PluginError

__all__ = ["Config", "SystemConfig", "default_config_path", "load_config", "resolve_sqlite_url"]

CONFIG_ENV = "FIELDWARDEN_CONFIG"


@dataclass(frozen=True)
class SystemConfig:
    name: str
    connector: str
    connector_class: type[Connector]
    options: ConnectorOptions
    writers: Mapping[str, str]
    suspect_below: float

    def acting_system(self, actor: str | None) -> str:
        """The system an actor in this system's change log acts for (itself when not listed)."""
        if actor is None:
            return self.name
        return self.writers.get(actor, self.name)


@dataclass
class Config:
    path: Path
    base_dir: Path
    model: ConfigModel
    storage_url: str
    systems: dict[str, SystemConfig]
    ownership: OwnershipMap
    alerts: list[AlertSinkModel]
    warnings: list[ConfigProblem] = field(default_factory=list)
    locations: Locations | None = None

    @property
    def entities(self) -> dict[str, EntityModel]:
        return dict(self.model.entities)

    @property
    def settings(self) -> SettingsModel:
        return self.model.settings

    def resource_spec(self, entity: str, system: str) -> ResourceSpec:
        """What to read from ``system`` for ``entity``: its key, mapped fields and scope."""
        mapping = self.model.entities[entity].systems[system]
        return build_resource_spec(system, entity, mapping)


def _field_spec(name: str, ref: str | FieldMappingModel) -> FieldSpec:
    if isinstance(ref, str):
        return FieldSpec(name=name, path=ref)
    return FieldSpec(name=name, path=ref.path, scale=ref.scale, value_map=dict(ref.map or {}))


def build_resource_spec(system: str, entity: str, mapping: SystemMappingModel) -> ResourceSpec:
    key_refs = mapping.key if isinstance(mapping.key, list) else [mapping.key]
    key = tuple(
        _field_spec("key" if len(key_refs) == 1 else f"key.{i}", ref)
        for i, ref in enumerate(key_refs)
    )
    fields = tuple(_field_spec(name, ref) for name, ref in mapping.fields.items())
    where = {
        path: tuple(_scalar_text(v) for v in (value if isinstance(value, list) else [value]))
        for path, value in mapping.where.items()
    }
    return ResourceSpec(
        system=system,
        entity=entity,
        resource=mapping.resource,
        query=mapping.query,
        key=key,
        fields=fields,
        where=where,
        changes=mapping.changes,
        options=dict(mapping.options),
    )


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_config_path() -> Path:
    """``$FIELDWARDEN_CONFIG``, else ``./fieldwarden.yaml`` (SPEC)."""
    return Path(os.environ.get(CONFIG_ENV) or "fieldwarden.yaml")


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """A relative SQLite path in a URL resolves against the config's folder, not the cwd."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            path_part, sep, query = rest.partition("?")
            if not path_part or path_part == ":memory:" or path_part.startswith("/"):
                return url
            return f"{prefix}{(base_dir / path_part).resolve()}{sep}{query}"
    return url


def _resolve_path(value: str, base_dir: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base_dir / path).resolve())


def _build_systems(
    model: ConfigModel, locations: Locations, data: Any, problems: list[ConfigProblem]
) -> dict[str, SystemConfig]:
    systems: dict[str, SystemConfig] = {}
    installed = registry.available()
    for name, system in model.systems.items():
        try:
            cls = registry.load(system.connector)
        except PluginError as exc:
            problems.append(locations.problem(("systems", name, "connector"), str(exc)))
            continue
        if cls is None:
            hint = suggest(system.connector, installed)
            problems.append(
                locations.problem(
                    ("systems", name, "connector"),
                    f"unknown connector {system.connector!r}{hint}; installed: {', '.join(installed)}",
                )
            )
            continue
        options_data = system.connector_options
        try:
            options = cls.Options.model_validate(options_data)
        except ValidationError as exc:
            problems.extend(
                problems_from_errors(
                    exc.errors(),
                    locations,
                    root=cls.Options,
                    data=options_data,
                    prefix=("systems", name),
                )
            )
            continue
        systems[name] = SystemConfig(
            name=name,
            connector=system.connector,
            connector_class=cls,
            options=options,
            writers=dict(system.writers),
            suspect_below=system.suspect_below,
        )
    return systems


def _load_ownership(
    model: ConfigModel, locations: Locations, base_dir: Path, problems: list[ConfigProblem]
) -> OwnershipMap:
    if isinstance(model.ownership, str):
        ownership_map, csv_problems = load_ownership_csv(
            Path(_resolve_path(model.ownership, base_dir))
        )
        problems.extend(csv_problems)
        return ownership_map
    entries: list[OwnershipEntry] = []
    for name, entry_model in model.ownership.items():
        line, column = locations.find(("ownership", name), prefer_key=True)
        origin = Origin(locations.file, line, column)
        entity, dot, field_name = name.partition(".")
        if not dot or not entity or not field_name:
            problems.append(origin.problem(f"ownership key {name!r} must be written entity.field"))
            continue
        try:
            entries.append(OwnershipEntry.from_model(entity, field_name, entry_model, origin))
        except ValueError as exc:
            part = rule_part(str(exc))
            hint = suggest(entry_model.compare, sorted(COMPARE_TYPES)) if part == "compare" else ""
            problems.append(locations.problem(("ownership", name, part), f"{name}: {exc}{hint}"))
    return OwnershipMap(entries)


def _secret_values(value: Any) -> list[str]:
    """Every SecretStr value inside a pydantic model (connector options, alert sinks)."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return [
            s for name in type(value).model_fields for s in _secret_values(getattr(value, name))
        ]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _secret_values(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _secret_values(item)]
    return []


def _exposed_secrets(
    path: Path, systems: Mapping[str, SystemConfig], model: ConfigModel
) -> list[ConfigProblem]:
    """A warning when other users may read a config that holds secrets inline (not ``${VAR}``)."""
    try:
        if not path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
            return []
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    values = _secret_values([s.options for s in systems.values()]) + _secret_values(model.alerts)
    if not any(v and v in text for v in values):
        return []
    return [
        ConfigProblem(
            str(path),
            None,
            None,
            f"the file is readable by other users (mode {stat.S_IMODE(path.stat().st_mode):o}) and "
            "holds secrets inline; move them to ${VAR} references or chmod 600 it",
            severity="warning",
        )
    ]


def load_config(path: Path | str | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Load, validate and resolve a config; raises ConfigError listing every problem found."""
    config_path = Path(path) if path is not None else default_config_path()
    document = load_yaml_file(config_path, env)
    problems = list(document.problems)
    locations = document.locations
    if document.data is None:
        raise ConfigError(problems)
    if not isinstance(document.data, dict):
        problems.append(
            locations.problem((), "the config must be a mapping of keys (version, systems, ...)")
        )
        raise ConfigError(problems)
    try:
        model = ConfigModel.model_validate(document.data)
    except ValidationError as exc:
        problems.extend(
            problems_from_errors(exc.errors(), locations, root=ConfigModel, data=document.data)
        )
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)

    base_dir = config_path.resolve().parent
    systems = _build_systems(model, locations, document.data, problems)
    ownership = _load_ownership(model, locations, base_dir, problems)
    errors, warnings = check_ownership(model, ownership, locations)
    problems.extend(errors)
    if problems:
        raise ConfigError(problems + warnings)
    warnings.extend(_exposed_secrets(config_path, systems, model))
    alerts: list[AlertSinkModel] = [
        sink.model_copy(update={"path": _resolve_path(sink.path, base_dir)})
        if isinstance(sink, LogSinkModel)
        else sink
        for sink in model.alerts
    ]
    return Config(
        path=config_path,
        base_dir=base_dir,
        model=model,
        storage_url=resolve_sqlite_url(model.storage, base_dir),
        systems=systems,
        ownership=ownership,
        alerts=alerts,
        warnings=warnings,
        locations=locations,
    )
