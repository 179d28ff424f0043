"""ScanOptions takes what callers write: a path as text, one pin as text, pins as a list;
and says what is wrong with what it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerotls.audit import ScanOptions
from zerotls.errors import ConfigError


def test_paths_and_pins_as_callers_write_them(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    options = ScanOptions(ca_file=str(ca), pins="sha256/abc=")  # type: ignore[arg-type]
    assert options.ca_file == ca and isinstance(options.ca_file, Path)
    assert options.pins == frozenset({"sha256/abc="})  # one pin, not its characters
    listed = ScanOptions(pins=["sha256/a=", "sha256/b="])  # type: ignore[arg-type]
    assert listed.pins == frozenset({"sha256/a=", "sha256/b="})


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ca_file .*missing.pem: no such file"):
        ScanOptions(ca_file=tmp_path / "missing.pem")
