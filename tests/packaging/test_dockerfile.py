"""No Docker engine runs here, so the Dockerfile is checked against the package instead."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _instruction(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(name + " ")]


def test_entrypoint_is_the_installed_console_script() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    (entrypoint,) = _instruction("ENTRYPOINT")
    assert json.loads(entrypoint) == ["fieldwarden"]
    assert "fieldwarden" in scripts
    assert json.loads(_instruction("CMD")[-1]) == ["run"]


def test_runs_as_a_non_root_user() -> None:
    users = _instruction("USER")
    assert users, "the image must switch to an unprivileged user"
    assert users[-1].strip() not in ("root", "0")


def test_config_path_and_install_match_the_readme() -> None:
    assert "FIELDWARDEN_CONFIG=/config/fieldwarden.yaml" in DOCKERFILE
    assert re.search(r"pip install \"?\.(\[[a-z,]+\])?\"?", DOCKERFILE)
    assert _instruction("FROM")[0].startswith("python:3.11-slim")


def test_copied_paths_exist() -> None:
    for source in _instruction("COPY"):
        for part in source.split()[:-1]:
            assert (ROOT / part).exists(), part
