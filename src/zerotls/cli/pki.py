"""``zerotls pki``: a local CA for workloads, on disk."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from zerotls._util import atomic_write, format_duration, parse_duration
from zerotls.errors import ConfigError
from zerotls.pki import PKIStore, default_pki_dir
from zerotls.pki.ocsp import OCSPResponder
from zerotls.tls.context import load_pem_certificates
from zerotls.tls.identity import Identity

EPILOG = """\
examples:
  zerotls pki init                                  # root CA in the default directory
  zerotls pki init --dir ./pki --intermediate       # root + issuing intermediate
  zerotls pki issue db --spiffe-id spiffe://prod.example/svc/db --dns db.internal --server
  zerotls pki issue web --spiffe-id spiffe://prod.example/svc/web --client --ttl 1h
  zerotls pki list
  zerotls pki pin ./pki/certs/db.pem                # SHA-256 SPKI pin for `pins = [...]`
  zerotls pki revoke db --reason key_compromise     # and rewrites crl.pem
  zerotls pki crl > crl.pem
  zerotls pki ocsp serve --listen 127.0.0.1:8080    # an OCSP responder for this CA
  zerotls pki issue api --dns api.internal --server --must-staple \
      --ocsp-url http://127.0.0.1:8080               # servers staple, clients require it

The directory is --dir, else $ZEROTLS_PKI_DIR, else $XDG_STATE_HOME/zerotls/pki
(~/.local/state/zerotls/pki). Private keys are written 0600, the directory 0700."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "pki",
        help="a local CA: issue short-lived workload certificates, revoke, CRLs, OCSP",
        description="A local certificate authority for workload identities (SPIFFE IDs), "
        "short-lived by default.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, default=None, help="PKI directory (default: see below)")
    # --dir is accepted after the action too (`pki init --dir ./pki`), as every example shows;
    # SUPPRESS keeps the action's parser from resetting a --dir given before it.
    here = argparse.ArgumentParser(add_help=False)
    here.add_argument(
        "--dir", type=Path, default=argparse.SUPPRESS, help="PKI directory (default: see `pki -h`)"
    )
    cmds = parser.add_subparsers(dest="pki_command", metavar="ACTION")
    cmds.required = True

    p = cmds.add_parser(
        "init", parents=[here], help="create a root CA (and optionally an intermediate)"
    )
    p.add_argument("--name", default="zerotls root CA", help="the CA's common name")
    p.add_argument(
        "--key-type",
        choices=["ec", "ed25519", "rsa"],
        default="ec",
        help="ec = ECDSA P-256 (default), ed25519, rsa = RSA-3072",
    )
    p.add_argument(
        "--intermediate",
        action="store_true",
        help="also create an intermediate CA that signs leaves (keep the root key offline)",
    )
    p.set_defaults(func=_init)

    p = cmds.add_parser(
        "issue",
        parents=[here],
        help="issue a certificate for a workload",
        description="Issue a short-lived certificate. Give at least one identity "
        "(--spiffe-id, --dns or --ip); with none, NAME is used as the DNS name.",
    )
    p.add_argument("name", help="a label; files go to certs/NAME.pem and certs/NAME.key")
    p.add_argument("--spiffe-id", help="workload identity, e.g. spiffe://prod.example/svc/db")
    p.add_argument("--dns", action="append", default=[], help="DNS SAN (repeatable)")
    p.add_argument("--ip", action="append", default=[], help="IP SAN (repeatable)")
    p.add_argument("--ttl", default="24h", help="validity, e.g. 15m, 24h, 30d (default 24h)")
    p.add_argument("--key-type", choices=["ec", "ed25519", "rsa"], default="ec")
    p.add_argument(
        "--ocsp-url",
        metavar="URL",
        help="OCSP responder URL to write into the certificate (authorityInfoAccess); servers "
        "fetch their staple from it",
    )
    p.add_argument("--crl-url", metavar="URL", help="CRL distribution point URL to write in")
    p.add_argument(
        "--must-staple",
        action="store_true",
        help="mark the certificate must-staple (RFC 7633): clients refuse it without a valid "
        "stapled OCSP response (needs --ocsp-url or a staple file on the server)",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="a valid certificate already has NAME: issue a new one anyway; the old one moves "
        "to certs/previous/ and stays valid until it expires or is revoked",
    )
    usage = p.add_mutually_exclusive_group()
    usage.add_argument(
        "--server",
        dest="usage",
        action="store_const",
        const="server",
        help="for a server only (extended key usage serverAuth)",
    )
    usage.add_argument(
        "--client",
        dest="usage",
        action="store_const",
        const="client",
        help="for a client only (clientAuth)",
    )
    usage.add_argument(
        "--both",
        dest="usage",
        action="store_const",
        const="both",
        help="for either side (serverAuth and clientAuth; the default)",
    )
    p.set_defaults(func=_issue, usage="both")

    p = cmds.add_parser("list", parents=[here], help="list issued certificates and their state")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)

    p = cmds.add_parser(
        "inspect", parents=[here], help="show the identity a peer would see in a certificate"
    )
    p.add_argument("cert", type=Path, help="PEM file (the first certificate is shown)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_inspect)

    p = cmds.add_parser("pin", parents=[here], help="print the SHA-256 SPKI pin of a certificate")
    p.add_argument("cert", type=Path, help="PEM file (the first certificate is pinned)")
    p.set_defaults(func=_pin)

    p = cmds.add_parser(
        "revoke",
        parents=[here],
        help="revoke a certificate (or every valid one under a name) and rewrite the CRL",
    )
    p.add_argument(
        "serial",
        help="serial number (hex as `pki list` or `openssl x509 -serial` prints it, or a "
        "unique prefix of 8+ digits), or a certificate name: every valid certificate "
        "issued under it is revoked",
    )
    p.add_argument(
        "--reason",
        default="unspecified",
        help="RFC 5280 name or snake name: keyCompromise / key_compromise, superseded, "
        "cessationOfOperation, affiliationChanged, cACompromise, certificateHold, "
        "privilegeWithdrawn, aACompromise (default unspecified)",
    )
    p.set_defaults(func=_revoke)

    p = cmds.add_parser("crl", parents=[here], help="sign a fresh CRL, write crl.pem and print it")
    p.add_argument("--next-update", default="24h", help="CRL validity (default 24h)")
    p.set_defaults(func=_crl)

    ocsp_parser = cmds.add_parser(
        "ocsp",
        parents=[here],
        help="an OCSP responder for this CA (serve over HTTP, or sign one response)",
        description="Answer OCSP queries about certificates this PKI issued (RFC 6960, GET and "
        "POST as in RFC 5019). Answers come from the index, so `zerotls pki revoke` shows at "
        "the next query.",
        epilog=OCSP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ocsp_cmds = ocsp_parser.add_subparsers(dest="ocsp_command", metavar="ACTION")
    ocsp_cmds.required = True
    for name, helptext, func in (
        ("serve", "run the responder over HTTP until stopped", _ocsp_serve),
        ("respond", "sign one response (DER) for a serial: a staple file", _ocsp_respond),
    ):
        p = ocsp_cmds.add_parser(name, help=helptext, parents=[here])
        if name == "serve":
            p.add_argument(
                "--listen",
                default="127.0.0.1:8080",
                metavar="HOST:PORT",
                help="address to listen on (default 127.0.0.1:8080; port 0 picks one)",
            )
        else:
            p.add_argument("serial", help="serial number (hex) or certificate name")
            p.add_argument("--out", type=Path, help="write the DER response here (default: stdout)")
        p.add_argument(
            "--validity",
            default="4h",
            help="nextUpdate - thisUpdate of each response (default 4h); servers refresh "
            "their staple at half of it",
        )
        p.add_argument(
            "--delegated",
            action="store_true",
            help="sign with a delegated responder certificate (id-kp-OCSPSigning, created "
            "and renewed in the PKI directory) instead of the CA key",
        )
        p.set_defaults(func=func)


OCSP_EPILOG = """\
examples:
  zerotls pki ocsp serve --listen 127.0.0.1:8080
  zerotls pki ocsp serve --listen 127.0.0.1:8080 --delegated --validity 1h
  zerotls pki ocsp respond api --out api.ocsp.der   # for ocsp_staple_file = "api.ocsp.der"
  openssl ocsp -issuer ca.pem -cert api.pem -url http://127.0.0.1:8080 -CAfile ca.pem

Certificates name their responder with `zerotls pki issue ... --ocsp-url URL`."""


def _responder(args: argparse.Namespace) -> tuple[PKIStore, OCSPResponder]:
    store = PKIStore(_dir(args))
    validity = parse_duration(args.validity)
    return store, store.ocsp_responder(delegated=args.delegated, validity=validity)


def _ocsp_serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from zerotls._util import parse_hostport
    from zerotls.pki.ocsp import serve

    store, responder = _responder(args)
    host, port = parse_hostport(args.listen, default_port=8080)
    server = serve(responder, host, port)
    signer = (
        responder.signer_certificate.subject.rfc4514_string() if responder.signer else "the CA key"
    )
    print(f"OCSP responder for {store.issuing_ca().name} at {server.url}/", flush=True)
    print(f"  signing with {signer}; responses valid {args.validity}", flush=True)
    print(f"  issue certificates with: --ocsp-url {server.url}", flush=True)
    print("  stop with Ctrl-C or SIGTERM", flush=True)

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"OCSP responder stopped after {server.requests_served} request(s)", flush=True)
    return 0


def _ocsp_respond(args: argparse.Namespace) -> int:
    import sys

    store, responder = _responder(args)
    record = store.find(args.serial)
    der = responder.response(int(record.serial, 16))
    if args.out is not None:
        atomic_write(args.out, der, mode=0o644)
        print(
            f"wrote the OCSP response for {record.name} (serial {record.serial}, "
            f"{'revoked' if record.revoked else 'good'}) to {args.out}",
            file=sys.stderr,
        )
        return 0
    if sys.stdout.isatty():
        raise ConfigError("the response is binary (DER): use --out FILE or redirect stdout")
    sys.stdout.buffer.write(der)
    sys.stdout.flush()
    return 0


def _dir(args: argparse.Namespace) -> Path:
    return Path(args.dir) if args.dir is not None else default_pki_dir()


def _init(args: argparse.Namespace) -> int:
    store = PKIStore.init(
        _dir(args), name=args.name, key_type=args.key_type, intermediate=args.intermediate
    )
    print(f"created a PKI in {store.root}")
    print(f"  trust anchor (give it to peers as `ca`): {store.ca_path}")
    if args.intermediate:
        print(f"  issuing CA: {store.root / 'intermediate.pem'}")
    print(f"  CRL: {store.crl_path}")
    print(f"next: zerotls pki --dir {store.root} issue NAME --spiffe-id spiffe://DOMAIN/PATH")
    return 0


def _issue(args: argparse.Namespace) -> int:
    store = PKIStore(_dir(args))
    ttl = parse_duration(args.ttl)
    record, issued = store.issue(
        args.name,
        spiffe_id=args.spiffe_id,
        dns=args.dns,
        ips=args.ip,
        usage=args.usage,
        ttl=ttl,
        key_type=args.key_type,
        ocsp_url=args.ocsp_url,
        crl_url=args.crl_url,
        must_staple=args.must_staple,
        replace=args.replace,
    )
    ident = issued.identity
    print(
        f"issued {record.name} (serial {record.serial}), {args.usage} use, valid "
        f"{format_duration(ttl)} until {ident.not_after:%Y-%m-%d %H:%M}Z"
    )
    for label, values in (
        ("SPIFFE ID", [ident.spiffe_id] if ident.spiffe_id else []),
        ("DNS", list(ident.dns_names)),
        ("IP", list(ident.ip_addresses)),
    ):
        if values:
            print(f"  {label}: {', '.join(values)}")
    print(f"  cert: {store.root / record.cert_path}")
    print(f"  key:  {store.root / record.key_path} (0600)")
    print(f"  pin:  sha256/{ident.spki_pin}")
    return 0


def _list(args: argparse.Namespace) -> int:
    store = PKIStore(_dir(args))
    records = store.records()
    now = dt.datetime.now(dt.UTC)
    if args.json:
        print(json.dumps([asdict(r) for r in records], indent=2))
        return 0
    if not records:
        print(f"nothing issued yet in {store.root}: try `zerotls pki issue NAME`")
        return 0
    print(f"{'SERIAL':<16} {'NAME':<16} {'USAGE':<6} {'STATE':<22} IDENTITY")
    for r in records:
        not_after = dt.datetime.fromisoformat(r.not_after)
        if r.revoked_at:
            state = f"revoked ({r.reason})"
        elif not_after < now:
            state = f"expired {format_duration(now - not_after)} ago"
        else:
            state = f"valid {format_duration(not_after - now)}"
        ident = r.spiffe_id or ", ".join(r.dns + r.ips)
        print(f"{r.serial[:16]:<16} {r.name[:16]:<16} {r.usage:<6} {state:<22} {ident}")
    return 0


def _load_leaf(path: Path) -> x509.Certificate:
    certs = load_pem_certificates(path)
    return certs[0]


def _inspect(args: argparse.Namespace) -> int:
    leaf = _load_leaf(args.cert)
    ident = Identity.from_certificate(leaf)
    if args.json:
        print(json.dumps(ident.to_dict(), indent=2))
        return 0
    now = dt.datetime.now(dt.UTC)
    for key, value in ident.to_dict().items():
        shown = (", ".join(value) or "-") if isinstance(value, list) else value
        print(f"{key:<20} {shown if shown is not None else '-'}")
    left = ident.remaining(now)
    print(
        f"{'remaining':<20} "
        + (
            f"{format_duration(left)}"
            if left.total_seconds() > 0
            else f"EXPIRED {format_duration(left)} ago"
        )
    )
    return 0


def _pin(args: argparse.Namespace) -> int:
    print(f"sha256/{Identity.from_certificate(_load_leaf(args.cert)).spki_pin}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    store = PKIStore(_dir(args))
    records = store.revoke(args.serial, reason=args.reason)
    for record in records:
        print(f"revoked {record.name} (serial {record.serial}, reason {record.reason})")
    print(f"CRL rewritten: {store.crl_path}")
    print("peers that load this CRL (crls = [...]) refuse the certificate from now on")
    return 0


def _crl(args: argparse.Namespace) -> int:
    store = PKIStore(_dir(args))
    delta = parse_duration(args.next_update)
    if delta.total_seconds() < 60:
        raise ConfigError("--next-update shorter than a minute leaves no time to distribute")
    crl = store.crl(next_update=delta)
    data = crl.public_bytes(serialization.Encoding.PEM)
    atomic_write(store.crl_path, data)
    print(data.decode(), end="")
    return 0
