"""Config and ownership map: loading, validation and lint (SPEC: Config file)."""

from detector.config.load import Config, SystemConfig, default_config_path, load_config
from detector.config.ownership import OwnershipEntry, OwnershipMap

__all__ = [
    "Config",
    "OwnershipEntry",
    "OwnershipMap",
    "SystemConfig",
    "default_config_path",
    "load_config",
]
