"""Shared fixtures: where the public conformance data lives, and small program builders."""
from __future__ import annotations

import os
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


@pytest.fixture
def cpu0():
    """Run on CPU 0 only, for comparisons with the kernel: per-CPU map slots and the CPU number a program reads
    are CPU 0's, as in the VM's default environment."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    yield
    os.sched_setaffinity(0, saved)
