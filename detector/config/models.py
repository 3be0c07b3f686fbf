"""Typed models of the config file (SPEC: Config file).

Every model forbids unknown keys: a misspelt key is an error with a suggestion, never ignored.
Connector-specific options are not modelled here; each connector's own ``Options`` model
validates them (see ``detector.config.load``).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from detector.durations import parse_duration
from detector.model import Kind, Severity

__all__ = [
    "AlertSinkModel",
    "ConfigModel",
    "Duration",
    "EmailSinkModel",
    "EntityModel",
    "FieldMappingModel",
    "LogSinkModel",
    "OwnershipEntryModel",
    "PagerDutySinkModel",
    "ScheduleModel",
    "ScheduleSpecModel",
    "SettingsModel",
    "StrictModel",
    "SystemMappingModel",
    "SystemModel",
    "WebhookSinkModel",
]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Scalar = str | int | float | bool | Decimal


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldMappingModel(StrictModel):
    """A field as a system stores it, when a bare path is not enough."""

    path: str
    scale: Decimal | None = None
    map: dict[str, str] | None = None

    @field_validator("map", mode="before")
    @classmethod
    def _map_values_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        return value


FieldRef = str | FieldMappingModel


class SystemMappingModel(StrictModel):
    """How one system holds one entity."""

    resource: str | None = None
    query: str | None = None
    key: FieldRef | list[FieldRef]
    fields: dict[str, FieldRef] = Field(default_factory=dict)
    changes: str | None = None
    where: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    """Connector-specific options for this entity (e.g. a Shopify location)."""

    @model_validator(mode="after")
    def _resource_or_query(self) -> SystemMappingModel:
        if self.resource is None and self.query is None:
            raise ValueError("give either 'resource' or 'query'")
        if self.resource is not None and self.query is not None:
            raise ValueError("give 'resource' or 'query', not both")
        return self


class ScheduleSpecModel(StrictModel):
    every: Duration | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleSpecModel:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        if self.every is not None and self.every.total_seconds() <= 0:
            raise ValueError("'every' must be longer than zero")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(
                f"cron {self.cron!r} must have five fields: minute hour day month weekday"
            )
        return self


class ScheduleModel(StrictModel):
    incremental: ScheduleSpecModel | None = None
    full: ScheduleSpecModel | None = None
    dispatch: ScheduleSpecModel | None = None
    """How often the alert outbox is delivered (default: every 30s)."""


class EntityModel(StrictModel):
    key_compare: Literal["exact", "text", "email"] = "exact"
    systems: dict[str, SystemMappingModel]
    schedule: ScheduleModel | None = None


class SystemModel(BaseModel):
    """A system: its connector, who acts for whom in its change log, and connector options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    connector: str
    writers: dict[str, str] = Field(default_factory=dict)
    suspect_below: float = Field(default=0.5, ge=0, le=1)
    """A read returning fewer than this fraction of the last good run's records is suspect."""

    @field_validator("writers", mode="before")
    @classmethod
    def _writers_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @property
    def connector_options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class OwnershipEntryModel(StrictModel):
    owner: str | None = None
    readers: list[str] = Field(default_factory=list)
    compare: str = "exact"
    tolerance: Decimal | None = None
    rel_tolerance: Decimal | None = None
    casefold: bool = False
    default_region: str | None = None
    lag: Duration | None = None
    severity: Severity = Severity.MEDIUM
    personal: bool = False
    notes: str | None = None

    @field_validator("readers", mode="before")
    @classmethod
    def _readers_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value


class _SinkBase(StrictModel):
    name: str | None = None
    min_severity: Severity = Severity.LOW
    entities: list[str] | None = None
    fields: list[str] | None = None
    systems: list[str] | None = None
    kinds: list[Kind] | None = None
    max_attempts: int = Field(default=8, ge=1)
    digest_after: int = Field(default=5, ge=1)
    """More events than this from one run become one digest message."""


class LogSinkModel(_SinkBase):
    type: Literal["log"]
    path: str


class WebhookSinkModel(_SinkBase):
    type: Literal["webhook"]
    url: SecretStr
    format: Literal["slack", "json"] = "json"
    allow_private: bool = False
    timeout: float = Field(default=10, gt=0)
    headers: dict[str, SecretStr] = Field(default_factory=dict)


class EmailSinkModel(_SinkBase):
    type: Literal["email"]
    smtp_url: SecretStr
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    timeout: float = Field(default=10, gt=0)
    subject_prefix: str = "[fieldwarden]"


class PagerDutySinkModel(_SinkBase):
    type: Literal["pagerduty"]
    routing_key: SecretStr
    url: str = "https://events.pagerduty.com/v2/enqueue"
    timeout: float = Field(default=10, gt=0)


AlertSinkModel = Annotated[
    LogSinkModel | WebhookSinkModel | EmailSinkModel | PagerDutySinkModel,
    Field(discriminator="type"),
]


class SettingsModel(StrictModel):
    reminder_after: Duration = timedelta(hours=24)
    """An open, unacknowledged discrepancy is alerted again after this long."""
    cursor_lookback: Duration = timedelta(minutes=5)
    """Change logs are re-read this far behind the stored cursor: late timestamps are common."""
    change_retention: Duration = timedelta(days=90)
    """How long observed change-log writers are kept for `discover`."""
    run_deadline: Duration = timedelta(hours=1)
    change_window: Duration = timedelta(days=7)
    """How far back APIs' change logs are read the first time."""
    mass_missing_ratio: float = Field(default=0.2, gt=0, le=1)
    """More keys missing (or orphaned) than this share of the owner's keys is held back as suspect."""
    mass_missing_min: int = Field(default=5, ge=0)
    """...and more than this many: a handful of missing keys in a small catalog is not a mass event."""


class ConfigModel(StrictModel):
    version: Literal[1]
    storage: str = "sqlite:///fieldwarden.db"
    systems: dict[str, SystemModel]
    entities: dict[str, EntityModel]
    ownership: dict[str, OwnershipEntryModel] | str = Field(default_factory=dict)
    alerts: list[AlertSinkModel] = Field(default_factory=list)
    schedule: ScheduleModel = Field(default_factory=ScheduleModel)
    settings: SettingsModel = Field(default_factory=SettingsModel)
