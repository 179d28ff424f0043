"""nginx as a real TLS peer: a throwaway config in a temporary prefix, one process, no daemon."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

from tests.peers.openssl import free_port, stop, wait_for_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@contextlib.contextmanager
def nginx_https(
    root: Path, cert: Path, key: Path, *, body: str = "hello from nginx\n"
) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 answering every request with ``body``; yields its port."""
    port = free_port()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(textwrap.dedent(f"""\
        daemon off;
        master_process off;
        worker_processes 1;
        pid {root}/nginx.pid;
        error_log {root}/logs/error.log warn;
        events {{ worker_connections 64; }}
        http {{
            access_log off;
            client_body_temp_path {root}/tmp;
            server {{
                listen 127.0.0.1:{port} ssl;
                ssl_certificate {cert};
                ssl_certificate_key {key};
                ssl_protocols TLSv1.2 TLSv1.3;
                location / {{ default_type text/plain; return 200 "{body.strip()}\\n"; }}
            }}
        }}
    """))  # fmt: skip
    proc = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(conf)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()
