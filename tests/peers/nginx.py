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
    root: Path,
    cert: Path,
    key: Path,
    *,
    body: str = "hello from nginx\n",
    client_ca: Path | None = None,
    http2: bool = False,
    staple: Path | None = None,
) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 answering every request with ``body``; yields its port.

    ``client_ca``: require a client certificate from it (``ssl_verify_client on``) and answer
    with the client's subject; ``http2``: offer h2; ``staple``: staple this DER OCSP response.
    """
    port = free_port()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    extra = ""
    reply = body.strip()
    if client_ca is not None:
        extra += f"ssl_verify_client on; ssl_client_certificate {client_ca};"
        reply += " client=$ssl_client_s_dn"
    if staple is not None:
        extra += f" ssl_stapling on; ssl_stapling_file {staple};"
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
                listen 127.0.0.1:{port} ssl{" http2" if http2 else ""};
                ssl_certificate {cert};
                ssl_certificate_key {key};
                ssl_protocols TLSv1.2 TLSv1.3;
                ssl_session_tickets on;
                {extra}
                location / {{ default_type text/plain; return 200 "{reply}\\n"; }}
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
