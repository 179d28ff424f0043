"""Value tracking: what the analysis follows, and where it deliberately stops."""

from __future__ import annotations

import textwrap

import pytest

from zerotls.codeaudit import Severity, audit_source
from zerotls.codeaudit._ciphers import judge_cipher_string


def rules_at(source: str) -> list[tuple[int, str]]:
    findings = audit_source(textwrap.dedent(source), "snippet.py")
    return [(f.line, f.rule_id) for f in findings if not f.suppressed]


def test_aliases_share_one_object() -> None:
    assert rules_at(
        """
        import ssl
        ctx = ssl.create_default_context()
        alias = ctx
        alias.check_hostname = False
        alias.verify_mode = ssl.CERT_NONE
        """
    ) == [(5, "TLS005"), (6, "TLS004")]


def test_a_nested_function_that_fixes_the_object_counts() -> None:
    # The socket is wrapped in an inner function, walked after its enclosing scope.
    assert not rules_at(
        """
        import socket, ssl
        def outer():
            sock = socket.create_connection(("example.com", 443))
            def secure():
                return ssl.create_default_context().wrap_socket(sock, server_hostname="x")
            return secure
        """
    )


def test_module_globals_are_visible_in_functions() -> None:
    assert rules_at(
        """
        import requests
        INSECURE = False
        def fetch(url):
            return requests.get(url, verify=INSECURE)
        """
    ) == [(5, "TLS004")]


def test_parameters_shadow_module_names() -> None:
    # Inside `f`, `requests` is a parameter, not the module: nothing can be concluded.
    assert not rules_at(
        """
        import requests
        def f(requests, url):
            return requests.get(url, verify=False)
        """
    )


def test_an_except_handler_does_not_hide_the_import() -> None:
    assert rules_at(
        """
        try:
            import ssl
        except ImportError:
            ssl = None
        ctx = ssl._create_unverified_context()
        """
    ) == [(6, "TLS003")]


def test_methods_do_not_see_class_body_names() -> None:
    assert not rules_at(
        """
        class Client:
            off = False
            def get(self, url):
                import requests
                return requests.get(url, verify=off)
        """
    )


def test_walrus_and_attribute_paths_are_followed() -> None:
    assert rules_at(
        """
        import ssl
        class C:
            def make(self):
                if (ctx := ssl.create_default_context()) is not None:
                    ctx.check_hostname = False
                self.ctx = ssl.create_default_context()
                self.ctx.verify_mode = ssl.CERT_NONE
        """
    ) == [(6, "TLS005"), (8, "TLS004")]


def test_unknown_values_never_trigger_a_rule() -> None:
    assert not rules_at(
        """
        import ssl, requests, hmac
        def f(flag, ciphers, proto, digest, host, sock):
            requests.get("https://x", verify=flag)
            ssl.create_default_context().set_ciphers(ciphers)
            ssl.SSLContext(proto)
            hmac.new(b"k", b"m", digest)
            ctx = ssl.create_default_context()
            ctx.check_hostname = flag
            ctx.verify_mode = proto
        """
    )


def test_a_mac_compared_with_is_not_equal_is_still_a_mac() -> None:
    # The one place an unknown operand still fires: the MAC side is known.
    assert rules_at(
        """
        import hmac, hashlib
        def check(key, body, received):
            return hmac.new(key, body, hashlib.sha256).hexdigest() != received
        """
    ) == [(4, "MAC001")]


def test_source_is_never_executed(tmp_path: object) -> None:
    from pathlib import Path

    marker = Path(str(tmp_path)) / "executed"
    audit_source(f"open({str(marker)!r}, 'w').write('x')\nimport os\nos.system('false')\n")
    assert not marker.exists()


def test_columns_count_characters_not_bytes() -> None:
    source = 'import requests\nr = {"é": requests.get("https://x", verify=False)}\n'
    (finding,) = audit_source(source)
    # `verify=False`'s value starts at character 41 (1-based), although its UTF-8 byte
    # offset is one more because of the two-byte "é".
    assert (finding.line, finding.col) == (2, source.splitlines()[1].index("False") + 1)


def test_findings_carry_rule_severity_reason_and_fix() -> None:
    (finding,) = audit_source("import ssl\nssl.wrap_socket(s)\n", "x.py")
    assert finding.rule_id == "TLS008"
    assert finding.severity is Severity.HIGH
    assert (finding.path, finding.line, finding.col) == ("x.py", 2, 1)
    assert "host name" in finding.why
    assert "server_hostname" in finding.fix and "zerotls" in finding.fix


@pytest.mark.parametrize(
    ("cipher_string", "broken", "no_fs"),
    [
        ("ALL", True, True),
        ("ALL:!aNULL:!kRSA", False, False),
        ("HIGH:!aNULL:!MD5", False, True),
        ("ECDHE+AESGCM", False, False),
        ("aNULL", True, False),
        ("ECDHE+AESGCM:!DES", False, False),
        ("DES-CBC3-SHA", True, False),
        ("RC4-SHA", True, False),
        ("AES128-SHA", False, True),
        ("ECDH-RSA-AES128-SHA", False, True),
        ("PSK-AES128-CBC-SHA", False, False),
        ("DEFAULT:@SECLEVEL=0", True, False),
        ("DEFAULT@SECLEVEL=2", False, False),
        ("DEFAULT@SECLEVEL=0", True, False),
        ("3DES:!DES", True, False),
        ("", False, False),
    ],
)
def test_cipher_string_judgement(cipher_string: str, broken: bool, no_fs: bool) -> None:
    verdict = judge_cipher_string(cipher_string)
    assert bool(verdict.broken) is broken, verdict
    assert bool(verdict.no_forward_secrecy) is no_fs, verdict


def test_an_event_loop_transport_to_a_computed_host_is_left_alone() -> None:
    # The protocol object makes the bytes and may speak TLS itself, as zerotls's engine does.
    assert not rules_at(
        """
        import asyncio
        async def connect(factory, host, port):
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.create_connection(factory, host, port)
            transport.write(b"x")
        """
    )
    assert rules_at(
        """
        import asyncio
        async def plain(host, port):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"x")
        """
    ) == [(4, "NET002")]
