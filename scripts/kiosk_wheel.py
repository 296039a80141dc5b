"""Build the kiosk's own wheel, ``assetgate-kiosk``: the ``kiosk`` and ``contract`` packages only.

The project's wheel carries the server's dependencies (Flask, SQLAlchemy, psycopg, reportlab ...)
in its base requirements; a Pi needs none of them. This wheel's base requirements are what the
agent imports (paho-mqtt, pydantic, click); its ``[kiosk]`` extra adds the camera stack (numpy,
OpenCV, pyzbar, zxing-cpp), exactly as pyproject.toml lists it. Version specifiers are taken from
pyproject.toml, so the two never drift apart.

    python scripts/kiosk_wheel.py [--out dist/]      # prints the wheel's path

On the Pi: ``pip install 'assetgate_kiosk-<version>-py3-none-any.whl[kiosk]'``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("contract", "kiosk")
# What the agent imports outside the standard library and its camera stack.
BASE = ("paho-mqtt", "pydantic", "click")
# zxing-cpp is a base dependency of the project (labels); on the kiosk only the camera decodes with it.
CAMERA_EXTRA = ("zxing-cpp",)


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def requirements() -> tuple[list[str], list[str]]:
    """(base requirements, the [kiosk] extra), with pyproject.toml's version specifiers."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    by_name = {_name(r): r for r in project["dependencies"]}
    base = [by_name[name] for name in BASE]
    extra = [*project["optional-dependencies"]["kiosk"], *(by_name[name] for name in CAMERA_EXTRA)]
    return base, extra


def pyproject_text(version: str) -> str:
    base, extra = requirements()

    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    return "\n".join([
        "[build-system]",
        'requires = ["setuptools>=61"]',
        'build-backend = "setuptools.build_meta"',
        "[project]",
        'name = "assetgate-kiosk"',
        f'version = "{version}"',
        'description = "AssetGate kiosk agent: scans to events, a durable outbox, MQTT to the server."',
        'requires-python = ">=3.11"',
        f"dependencies = {toml_list(base)}",
        "[project.optional-dependencies]",
        f"kiosk = {toml_list(extra)}",
        "[project.scripts]",
        'assetgate-kiosk = "kiosk.cli:main"',
        "[tool.setuptools.packages.find]",
        'include = ["contract*", "kiosk*"]',
        "[tool.setuptools.package-data]",
        'kiosk = ["locale/*/LC_MESSAGES/*.mo", "locale/*/LC_MESSAGES/*.po"]',
        "",
    ])


def build(out: Path) -> Path:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="assetgate-kiosk-wheel-") as stage_dir:
        stage = Path(stage_dir)
        for package in PACKAGES:
            shutil.copytree(ROOT / package, stage / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (stage / "pyproject.toml").write_text(pyproject_text(version))
        # pip builds in an isolated environment with setuptools (from its cache once fetched).
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "-w", str(out), str(stage)], check=True)
    wheel = out / f"assetgate_kiosk-{version}-py3-none-any.whl"
    if not wheel.exists():
        raise SystemExit(f"kiosk_wheel: expected {wheel}, found {sorted(p.name for p in out.iterdir())}")
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder for the wheel (default dist/)")
    print(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
