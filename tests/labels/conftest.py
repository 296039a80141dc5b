"""Fixtures for the labels tests (no app or database: labels stand alone)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(autouse=True, scope="session")
def _poppler() -> None:
    for tool in ("pdftoppm", "pdffonts", "pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: install the Debian package poppler-utils")
