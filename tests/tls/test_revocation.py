"""Client certificates on servers: CRL files, distribution points, OCSP queries, hard and soft.

Every test runs real handshakes (two engines back to back, or ``openssl s_client`` against
our server); CRLs and OCSP answers are real signed objects served over loopback HTTP.
"""

from __future__ import annotations

import datetime as dt
import http.server
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import PKI, Files
from tests.peers.openssl import OPENSSL
from tests.tls.pair import Pair, pair
from tests.tls.test_ocsp import Responder
from zerotls.errors import RevocationError, TLSAlert
from zerotls.pki.ocsp import CertStatus
from zerotls.tls.context import TLSContext
from zerotls.tls.sync import TLSSocket, serve

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def _now() -> None:
    """Each test judges at its own start: responses are built with the real clock, and a
    module-wide time taken at collection drifts past the skew in a long run."""
    global NOW  # noqa: PLW0603
    NOW = dt.datetime.now(dt.UTC)


def write_crl(pki: PKI, path: Path, revoked: list[Files], **kw: object) -> Path:
    entries = [(f.issued.cert.serial_number, NOW, "key_compromise") for f in revoked]
    crl = pki.ca.crl(entries, **kw)  # type: ignore[arg-type]
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return path


def client(pki: PKI, files: Files) -> TLSContext:
    return TLSContext(pki.client_config(cert=files.cert, key=files.key))


def test_revoked_client_is_refused_with_reason_and_alert(pki: PKI, tmp_path: Path) -> None:
    bad = pki.write("rev-client", spiffe_id="spiffe://test.zerotls.dev/rev", usage="client")
    crl = write_crl(pki, tmp_path / "crl.pem", [bad])
    server = TLSContext(pki.server_config(crls=(crl,)))
    p = Pair(client(pki, bad).connection(), server.connection()).run()
    assert type(p.server_error) is RevocationError
    assert p.server_error.reason == "key_compromise" and p.server_error.revoked_at is not None
    assert p.server_error.alert_sent == "certificate_revoked"
    assert isinstance(p.client_error, TLSAlert)
    assert p.client_error.description == "certificate_revoked"
    # The negative twin: a client that is not on the CRL gets in, and we say how we know.
    ok = Pair(TLSContext(pki.client_config()).connection(), server.connection()).run()
    assert ok.server_error is None
    assert ok.server.revocation == f"crl good (file {crl})"


def test_revocation_is_seen_within_one_refresh(pki: PKI, tmp_path: Path) -> None:
    later = pki.write("later-revoked", spiffe_id="spiffe://test.zerotls.dev/later", usage="client")
    crl = write_crl(pki, tmp_path / "crl.pem", [])
    server = TLSContext(pki.server_config(crls=(crl,), crl_refresh=1))
    assert Pair(client(pki, later).connection(), server.connection()).run().server_error is None
    write_crl(pki, crl, [later])  # `zerotls pki revoke` rewrites the file like this
    checker = server.revocation
    assert checker is not None
    checker.reload_files()  # what the refresher thread does every refresh period
    p = Pair(client(pki, later).connection(), server.connection()).run()
    assert isinstance(p.server_error, RevocationError) and "revoked" in str(p.server_error)


def test_unknown_status_hard_refuses_soft_records(pki: PKI, tmp_path: Path) -> None:
    other, _ = pki.other_ca("unrelated crl CA")
    crl = tmp_path / "unrelated.pem"
    crl.write_bytes(other.crl([]).public_bytes(serialization.Encoding.PEM))
    hard = pair(pki.client_config(), pki.server_config(crls=(crl,)))
    assert type(hard.server_error) is RevocationError
    assert "unknown" in str(hard.server_error) and "no CRL of CN=test root CA" in str(
        hard.server_error
    )
    assert isinstance(hard.client_error, TLSAlert)
    assert hard.client_error.description == "certificate_unknown"
    soft = pair(pki.client_config(), pki.server_config(crls=(crl,), revocation="soft"))
    assert soft.server_error is None
    assert soft.server.revocation is not None
    assert soft.server.revocation.startswith("unknown, soft-fail: no CRL of CN=test root CA")


def test_expired_crl_is_not_trusted(pki: PKI, tmp_path: Path) -> None:
    crl = write_crl(
        pki,
        tmp_path / "old.pem",
        [],
        now=NOW - dt.timedelta(days=3),
        next_update=dt.timedelta(days=1),
    )
    p = pair(pki.client_config(), pki.server_config(crls=(crl,)))
    assert isinstance(p.server_error, RevocationError) and "expired" in str(p.server_error)


def test_forged_crl_with_the_issuers_name_is_ignored(pki: PKI, tmp_path: Path) -> None:
    from zerotls.pki import CA

    forger = CA.create("test root CA")  # same name, another key
    crl = tmp_path / "forged.pem"
    crl.write_bytes(forger.crl([]).public_bytes(serialization.Encoding.PEM))
    p = pair(pki.client_config(), pki.server_config(crls=(crl,)))
    assert isinstance(p.server_error, RevocationError) and "unknown" in str(p.server_error)


class CRLServer:
    """A static HTTP server for a CRL (what a distribution point is)."""

    def __init__(self, root: Path) -> None:
        handler = partial(_Quiet, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.hits = 0
        outer = self

        class Counting(_Quiet):
            def do_GET(self) -> None:
                outer.hits += 1
                super().do_GET()

        self.server.RequestHandlerClass = partial(Counting, directory=str(root))  # type: ignore[assignment]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def crl_server(tmp_path: Path) -> Iterator[CRLServer]:
    s = CRLServer(tmp_path)
    yield s
    s.close()


def test_crl_distribution_point_is_fetched_and_cached(
    pki: PKI, tmp_path: Path, crl_server: CRLServer
) -> None:
    url = f"{crl_server.url}/ca.crl"
    good = pki.write(
        "dp-good", spiffe_id="spiffe://test.zerotls.dev/dp", usage="client", crl_url=url
    )
    bad = pki.write(
        "dp-bad", spiffe_id="spiffe://test.zerotls.dev/dpb", usage="client", crl_url=url
    )
    write_crl(pki, tmp_path / "ca.crl", [bad])
    server = TLSContext(pki.server_config(fetch_crls=True))
    checker = server.revocation
    assert checker is not None
    # First use: the fetch starts in the background; this handshake does not wait for it,
    # and a hard listener refuses it, saying why.
    first = Pair(client(pki, good).connection(), server.connection()).run()
    assert type(first.server_error) is RevocationError
    assert "is being fetched" in str(first.server_error)
    assert checker.wait_pending()
    ok = Pair(client(pki, good).connection(), server.connection()).run()
    assert ok.server_error is None and ok.server.revocation == f"crl good ({url})"
    refused = Pair(client(pki, bad).connection(), server.connection()).run()
    assert type(refused.server_error) is RevocationError
    assert crl_server.hits == 1  # fetched once, then served from the cache


def test_unreachable_distribution_point_hard_and_soft(pki: PKI) -> None:
    url = "http://127.0.0.1:9/nothing.crl"  # discard port: connection refused
    files = pki.write(
        "dp-down", spiffe_id="spiffe://test.zerotls.dev/down", usage="client", crl_url=url
    )
    hard_ctx = TLSContext(pki.server_config(fetch_crls=True))
    assert hard_ctx.revocation is not None
    Pair(client(pki, files).connection(), hard_ctx.connection()).run()  # starts the fetch
    assert hard_ctx.revocation.wait_pending()
    hard = Pair(client(pki, files).connection(), hard_ctx.connection()).run()
    assert isinstance(hard.server_error, RevocationError)
    assert "unreachable" in str(hard.server_error)
    soft_ctx = TLSContext(pki.server_config(fetch_crls=True, revocation="soft"))
    assert soft_ctx.revocation is not None
    pending = Pair(client(pki, files).connection(), soft_ctx.connection()).run()
    assert pending.server_error is None  # soft: in, and the audit detail says it was pending
    assert pending.server.revocation is not None and "being fetched" in pending.server.revocation
    assert soft_ctx.revocation.wait_pending()
    soft = Pair(client(pki, files).connection(), soft_ctx.connection()).run()
    assert soft.server_error is None
    assert soft.server.revocation is not None and "unreachable" in soft.server.revocation


def test_ocsp_query_for_client_certificates(pki: PKI) -> None:
    responder = Responder(pki.ca)
    try:
        ok = pki.write(
            "oq-good",
            spiffe_id="spiffe://test.zerotls.dev/oq",
            usage="client",
            ocsp_url=responder.url,
        )
        bad = pki.write(
            "oq-bad",
            spiffe_id="spiffe://test.zerotls.dev/oqb",
            usage="client",
            ocsp_url=responder.url,
        )
        responder.statuses[ok.issued.cert.serial_number] = CertStatus("good")
        responder.statuses[bad.issued.cert.serial_number] = CertStatus(
            "revoked", NOW, "affiliation_changed"
        )
        server = TLSContext(pki.server_config(query_ocsp=True))
        checker = server.revocation
        assert checker is not None
        first = Pair(client(pki, ok).connection(), server.connection()).run()
        assert type(first.server_error) is RevocationError  # hard, and the answer is pending
        assert "the OCSP answer from" in str(first.server_error)
        assert checker.wait_pending()
        good = Pair(client(pki, ok).connection(), server.connection()).run()
        assert good.server_error is None
        assert good.server.revocation == f"ocsp good ({responder.url})"
        again = Pair(client(pki, ok).connection(), server.connection()).run()
        assert again.server_error is None
        assert responder.server.requests_served == 1  # the second handshake used the cache
        Pair(client(pki, bad).connection(), server.connection()).run()  # its own first use
        assert checker.wait_pending()
        refused = Pair(client(pki, bad).connection(), server.connection()).run()
        assert type(refused.server_error) is RevocationError
        assert refused.server_error.reason == "affiliation_changed"
    finally:
        responder.close()


@pytest.mark.peers
def test_resumed_session_is_rechecked_against_a_new_crl(pki: PKI, tmp_path: Path) -> None:
    """A ticket issued before the revocation must not let the client back in (s_client)."""
    victim = pki.write("resumer", spiffe_id="spiffe://test.zerotls.dev/resume", usage="client")
    crl = write_crl(pki, tmp_path / "crl.pem", [])
    config = pki.server_config(crls=(crl,), crl_refresh=1)
    refusals: list[Exception] = []

    def echo(tls: TLSSocket) -> None:
        tls.sendall(tls.recv())

    server = serve(
        echo, "127.0.0.1", 0, config, on_handshake_failure=lambda e, _p: refusals.append(e)
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    session = tmp_path / "session.pem"

    def s_client(*extra: str) -> str:
        proc = subprocess.run(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername",
             "localhost", "-CAfile", str(pki.ca_path), "-cert", str(victim.cert), "-key",
             str(victim.key), "-ign_eof", *extra],
            input=b"hello\n", capture_output=True, timeout=20, check=False,
        )  # fmt: skip
        return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")

    try:
        first = s_client("-sess_out", str(session))
        assert "hello" in first and session.exists()
        write_crl(pki, crl, [victim])
        time.sleep(1.2)  # one crl_refresh period
        second = s_client("-sess_in", str(session))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert "Reused, TLSv1.3" in second  # the ticket was accepted...
    assert "hello" not in second.split("Reused", 1)[1]  # ...but no data flowed
    # Refused as revoked (the CRL was consulted for the remembered certificate), not merely
    # as "unknown".
    assert [getattr(e, "reason", None) for e in refusals] == ["key_compromise"]


def test_configured_crl_urls_are_fetched_at_start_not_in_a_handshake(
    pki: PKI, tmp_path: Path, crl_server: CRLServer
) -> None:
    bad = pki.write("url-bad", spiffe_id="spiffe://test.zerotls.dev/urlb", usage="client")
    write_crl(pki, tmp_path / "ca.crl", [bad])
    url = f"{crl_server.url}/ca.crl"
    server = TLSContext(pki.server_config(crl_urls=[url]))
    assert crl_server.hits == 1  # fetched when the context was built
    ok = Pair(TLSContext(pki.client_config()).connection(), server.connection()).run()
    assert ok.server_error is None and ok.server.revocation == f"crl good ({url})"
    refused = Pair(client(pki, bad).connection(), server.connection()).run()
    assert type(refused.server_error) is RevocationError
    assert crl_server.hits == 1  # the handshakes used the cache


def test_a_failing_source_is_not_retried_in_every_handshake(pki: PKI) -> None:
    url = "http://127.0.0.1:9/missing.crl"  # connection refused
    files = pki.write(
        "dp-retry", spiffe_id="spiffe://test.zerotls.dev/r", usage="client", crl_url=url
    )
    server = TLSContext(pki.server_config(fetch_crls=True, revocation="soft"))
    checker = server.revocation
    assert checker is not None
    calls: list[str] = []
    original = checker._fetch

    def counting(u: str) -> bytes:
        calls.append(u)
        return original(u)

    checker._fetch = counting
    Pair(client(pki, files).connection(), server.connection()).run()  # starts the one fetch
    assert checker.wait_pending()
    for _ in range(3):
        p = Pair(client(pki, files).connection(), server.connection()).run()
        assert p.server_error is None  # soft: let in, recorded
        assert p.server.revocation is not None and "unreachable" in p.server.revocation
    assert calls == [url]  # one attempt; the next handshakes reuse the recent failure


def test_crl_urls_must_be_http(pki: PKI) -> None:
    from zerotls.errors import ConfigError

    with pytest.raises(ConfigError, match="must be an http"):
        pki.server_config(crl_urls=["file:///etc/crl.pem"])


@pytest.fixture
def future_marks() -> Iterator[None]:
    """These tests date CRLs minutes ahead; forget their marks so later tests' CRLs of the
    same test CA (dated now) are not taken for rollbacks."""
    from zerotls.tls import revocation

    saved = dict(revocation._PROCESS_MARKS)
    yield
    revocation._PROCESS_MARKS.clear()
    revocation._PROCESS_MARKS.update(saved)


def _crl_at(pki: PKI, path: Path, revoked: list[Files], when: dt.datetime) -> bytes:
    entries = [(f.issued.cert.serial_number, NOW, "key_compromise") for f in revoked]
    crl = pki.ca.crl(entries, now=when)  # CRL number = seconds since the epoch of `when`
    data = crl.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(data)
    return data


@pytest.mark.usefixtures("future_marks")
def test_an_older_crl_put_back_never_un_revokes(pki: PKI, tmp_path: Path) -> None:
    stolen = pki.write("rollback-victim", spiffe_id="spiffe://test.zerotls.dev/rb", usage="client")
    crl = tmp_path / "crl.pem"
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # newer than any earlier test's
    old = _crl_at(pki, crl, [], start)
    _crl_at(pki, crl, [stolen], start + dt.timedelta(seconds=30))  # then it was revoked
    state = tmp_path / "crl-state.json"
    server = TLSContext(pki.server_config(crls=(crl,), crl_refresh=1, crl_state=state))
    refused = Pair(client(pki, stolen).connection(), server.connection()).run()
    assert isinstance(refused.server_error, RevocationError)
    assert refused.server_error.reason == "key_compromise"
    crl.write_bytes(old)  # an attacker (or a careless deploy) puts the earlier CRL back
    checker = server.revocation
    assert checker is not None
    moved = time.time() + 10
    checker._clock = lambda: moved
    again = Pair(client(pki, stolen).connection(), server.connection()).run()
    assert isinstance(again.server_error, RevocationError), "the older CRL un-revoked it"
    assert again.server_error.reason == "key_compromise"  # the newer copy stayed in use
    # After a restart (a new process: the in-process marks are gone), the state file holds.
    from zerotls.tls import revocation

    revocation._PROCESS_MARKS.clear()
    restarted = TLSContext(pki.server_config(crls=(crl,), crl_state=state))
    after = Pair(client(pki, stolen).connection(), restarted.connection()).run()
    assert isinstance(after.server_error, RevocationError)
    assert "is refused: its CRL number" in str(after.server_error)
    assert "older than number" in str(after.server_error)
    # The negative twin: without the state file, a restart cannot know (so keep one).
    revocation._PROCESS_MARKS.clear()
    naive = TLSContext(pki.server_config(crls=(crl,)))
    assert Pair(client(pki, stolen).connection(), naive.connection()).run().server_error is None


@pytest.mark.usefixtures("future_marks")
def test_a_replayed_crl_from_a_distribution_point_is_refused(pki: PKI, tmp_path: Path) -> None:
    stolen = pki.write("replay-victim", spiffe_id="spiffe://test.zerotls.dev/rp", usage="client")
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    old = _crl_at(pki, tmp_path / "a.pem", [], start)
    new = _crl_at(pki, tmp_path / "b.pem", [stolen], start + dt.timedelta(seconds=30))
    served = [new]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served[0]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/ca.crl"
    try:
        server = TLSContext(pki.server_config(crl_urls=(url,), crl_refresh=1))
        first = Pair(client(pki, stolen).connection(), server.connection()).run()
        assert isinstance(first.server_error, RevocationError)
        served[0] = old  # someone on the path replays the older CRL at the next refresh
        checker = server.revocation
        assert checker is not None
        with pytest.raises(RevocationError, match="is refused: its CRL number"):
            checker._fetch_crl(url)
        later = TLSContext(pki.server_config(crl_urls=(url,)))  # e.g. after a reload
        p = Pair(client(pki, stolen).connection(), later.connection()).run()
        assert isinstance(p.server_error, RevocationError)
        assert "is refused" in str(p.server_error) or p.server_error.reason == "key_compromise"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_handshake_never_waits_for_a_distribution_point(pki: PKI) -> None:
    """The distribution point holds its answer until the test lets it go: the handshake
    completes (soft) while the fetch is still running, so nothing in it waited."""
    release = threading.Event()

    class Held(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(30)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Held)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/held.crl"
    try:
        files = pki.write(
            "held-dp", spiffe_id="spiffe://test.zerotls.dev/held", usage="client", crl_url=url
        )
        server = TLSContext(pki.server_config(fetch_crls=True, revocation="soft"))
        checker = server.revocation
        assert checker is not None
        p = Pair(client(pki, files).connection(), server.connection()).run()
        assert p.server_error is None and p.server.handshake is not None
        assert checker.pending == 1  # the fetch is still out there: the handshake did not wait
        assert p.server.revocation is not None and "being fetched" in p.server.revocation
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()


def test_another_ca_with_the_same_name_cannot_raise_this_issuers_mark(pki: PKI) -> None:
    from cryptography import x509 as cx509

    from zerotls.pki import CA
    from zerotls.tls.revocation import CRLHighWater

    twin = CA.create("test root CA")  # same DN, its own key
    builder_crl = twin.crl([], now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3000))
    marks = CRLHighWater()
    marks.record(builder_crl, twin.cert)  # the twin's own CRL, verified with the twin's key
    ours = pki.ca.crl([])
    assert marks.older_than_seen(ours, pki.ca.cert) is None  # our mark is untouched
    assert marks.older_than_seen(ours, twin.cert) is not None
    assert isinstance(ours, cx509.CertificateRevocationList)


@pytest.mark.usefixtures("future_marks")
def test_a_forged_crl_never_pushes_out_the_verified_copy(pki: PKI, tmp_path: Path) -> None:
    from zerotls.pki import CA

    stolen = pki.write("forge-victim", spiffe_id="spiffe://test.zerotls.dev/fv", usage="client")
    good = _crl_at(pki, tmp_path / "good.pem", [stolen], dt.datetime.now(dt.UTC))
    forger = CA.create("test root CA")
    forged = forger.crl([], now=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).public_bytes(
        serialization.Encoding.PEM
    )
    served = [good]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(served[0])))
            self.end_headers()
            self.wfile.write(served[0])

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/ca.crl"
    try:
        server = TLSContext(pki.server_config(crl_urls=(url,)))
        first = Pair(client(pki, stolen).connection(), server.connection()).run()
        assert isinstance(first.server_error, RevocationError)  # verified: the copy is trusted
        served[0] = forged  # someone on the path serves an unsigned-by-us, 'newer' CRL
        checker = server.revocation
        assert checker is not None
        with pytest.raises(RevocationError, match="not signed by the issuer"):
            checker._fetch_crl(url)
        again = Pair(client(pki, stolen).connection(), server.connection()).run()
        assert isinstance(again.server_error, RevocationError)
        assert again.server_error.reason == "key_compromise"
    finally:
        httpd.shutdown()
        httpd.server_close()
