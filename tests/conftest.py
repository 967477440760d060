"""Shared fixtures: where the public conformance data lives, and small program builders."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not (CONFORMANCE / "bpf_conformance").is_dir():
        pytest.skip(f"the public conformance data is not at {CONFORMANCE}")
    return CONFORMANCE
