"""The tunnel's TOML is checked strictly: a quoted "false" is not false, and `tunnel check`
says what is wrong before a tunnel runs with it (through the real command)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import PKI
from zerotls.cli import main

BASE = """\
{top}
[[listener]]
name = "front"
listen = "127.0.0.1:{port}"
[listener.tls]
cert = "{cert}"
key = "{key}"
ca = "{ca}"
{tls}
[[listener.route]]
name = "db"
target = "{target}"
{route}
[[listener.route.rule]]
name = "web"
effect = "allow"
spiffe = ["spiffe://test.zerotls.dev/svc/web"]
"""


def write(tmp_path: Path, pki: PKI, *, top: str = "", tls: str = "", route: str = "",
          target: str = "127.0.0.1:5432", port: int = 8443, extra: str = "") -> Path:  # fmt: skip
    text = BASE.format(
        top=top, tls=tls, route=route, target=target, port=port,
        cert=pki.server.cert, key=pki.server.key, ca=pki.ca_path,
    ) + textwrap.dedent(extra)  # fmt: skip
    path = tmp_path / "tunnel.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "case",
    [
        ("top", 'unsafe_target = "false"', "unsafe_target must be true or false"),
        ("route", 'proxy_protocol = "false"', "proxy_protocol must be true or false"),
        ("tls", 'fetch_crls = "false"', "fetch_crls must be true or false"),
        ("tls", 'query_ocsp = "no"', "query_ocsp must be true or false"),
        ("tls", "ocsp_stapling = 0", "ocsp_stapling must be true or false"),
        ("top", '[limits]\nidle_timeout = "99999999999d"', "at most 100 years"),
        ("top", "[limits]\nidle_timeout = inf", "at most 100 years"),
        ("top", "[limits]\nmax_connections = true", "whole number"),
        ("tls", "crl_refresh = nan", "finite number of seconds"),
    ],
)
def test_quoted_and_odd_values_are_refused(
    tmp_path: Path, pki: PKI, capsys: pytest.CaptureFixture[str], case: tuple[str, str, str]
) -> None:
    where, line, expected = case
    if where == "top" and line.startswith("[limits]"):
        config = write(tmp_path, pki, extra="\n" + line + "\n")
    else:
        config = write(tmp_path, pki, **{where: line})
    assert main(["tunnel", "check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_quoted_false_does_not_enable_cleartext_off_the_machine(
    tmp_path: Path, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, pki, top='unsafe_target = "false"', target="192.0.2.10:5432")
    assert main(["tunnel", "check", "--config", str(config)]) == 2
    assert "OK" not in capsys.readouterr().out


def test_durations_are_accepted_where_seconds_are(
    tmp_path: Path, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, pki, tls='crl_refresh = "5m"\ncrls = []')
    assert main(["tunnel", "check", "--config", str(config)]) == 0, capsys.readouterr().err
    assert "OK" in capsys.readouterr().out


def test_check_finds_two_listeners_on_one_address_and_a_missing_log_dir(
    tmp_path: Path, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    second = f"""
    [[listener]]
    name = "again"
    listen = "127.0.0.1:8443"
    [listener.tls]
    cert = "{pki.server.cert}"
    key = "{pki.server.key}"
    ca = "{pki.ca_path}"
    [[listener.route]]
    name = "other"
    target = "127.0.0.1:5433"
    """
    assert main(["tunnel", "check", "--config", str(write(tmp_path, pki, extra=second))]) == 2
    assert "both listen on 127.0.0.1:8443" in capsys.readouterr().err
    missing = write(tmp_path, pki, top='audit_log = "no/such/dir/audit.jsonl"')
    assert main(["tunnel", "check", "--config", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
