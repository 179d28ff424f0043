"""``zerotls connect --send`` against nginx: the reply and the summary are printed even when
the server closes without close_notify, then the warning, with its own exit code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PKI
from tests.peers.nginx import NGINX, nginx_https

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(
        shutil.which(NGINX) is None and not Path(NGINX).exists(),
        reason="nginx is not installed (make test installs nginx-light)",
    ),
]


def test_connect_send_to_nginx_prints_the_reply_and_the_summary(pki: PKI, tmp_path: Path) -> None:
    with nginx_https(tmp_path / "nginx", pki.server.cert, pki.server.key) as port:
        proc = subprocess.run(
            [sys.executable, "-m", "zerotls", "connect", f"127.0.0.1:{port}", "--name",
             "localhost", "--ca", str(pki.ca_path), "--send",
             "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"],  # keep-alive: nginx waits
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    assert "connected to 127.0.0.1" in proc.stdout and "TLSv1.3" in proc.stdout, proc.stderr
    assert "HTTP/1.1 200 OK" in proc.stdout and "hello from nginx" in proc.stdout
    # We half-closed; nginx then closes without close_notify: said after the reply, exit 4.
    assert proc.returncode == 4, proc.stderr
    assert re.search(r"\d+ byte\(s\) received, then", proc.stderr), proc.stderr
    assert "close_notify" in proc.stderr
    assert "Traceback" not in proc.stderr
