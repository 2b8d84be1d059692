"""Shared fixtures: where ../shared is, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CONFORMANCE_DIR = SHARED / "conformance" / "tests"
ASSEMBLED_JSON = SHARED / "conformance" / "assembled.json"

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

needs_shared = pytest.mark.skipif(not CONFORMANCE_DIR.is_dir(), reason="../shared/conformance is not present")
