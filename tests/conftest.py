"""Shared fixtures: a PKI (ours, written to disk) for every TLS test."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from zerotls.pki import CA, IssuedCert
from zerotls.tls.config import ClientConfig, ServerConfig

DOMAIN = "test.zerotls.dev"
SERVER_ID = f"spiffe://{DOMAIN}/svc/db"
CLIENT_ID = f"spiffe://{DOMAIN}/svc/web"


@dataclass
class Files:
    cert: Path
    key: Path
    issued: IssuedCert


class PKI:
    """A CA with helpers to write certificates and build configs around them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = CA.create("test root CA")
        self.ca_path = root / "ca.pem"
        self.ca_path.write_bytes(self.ca.cert_pem)
        self.server = self.write(
            "server", spiffe_id=SERVER_ID, dns=["localhost"], ips=["127.0.0.1"], usage="server"
        )
        self.client = self.write("client", spiffe_id=CLIENT_ID, usage="client")

    def write(self, name: str, *, ca: CA | None = None, **kwargs: object) -> Files:
        issued = (ca or self.ca).issue(name, **kwargs)  # type: ignore[arg-type]
        files = Files(self.root / f"{name}.pem", self.root / f"{name}.key", issued)
        issued.write(files.cert, files.key)
        return files

    def other_ca(self, name: str = "other CA") -> tuple[CA, Path]:
        ca = CA.create(name)
        path = self.root / f"{name.replace(' ', '_')}.pem"
        path.write_bytes(ca.cert_pem)
        return ca, path

    def expired(self, name: str = "expired", **kwargs: object) -> Files:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        return self.write(name, now=past, ttl=dt.timedelta(hours=1), **kwargs)

    def server_config(self, **overrides: object) -> ServerConfig:
        values: dict[str, object] = {
            "cert": self.server.cert,
            "key": self.server.key,
            "ca": self.ca_path,
        }
        values.update(overrides)
        return ServerConfig(**values)  # type: ignore[arg-type]

    def client_config(self, **overrides: object) -> ClientConfig:
        values: dict[str, object] = {
            "server_name": "localhost",
            "ca": self.ca_path,
            "cert": self.client.cert,
            "key": self.client.key,
        }
        values.update(overrides)
        return ClientConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))
