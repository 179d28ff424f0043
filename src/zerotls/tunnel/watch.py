"""Reload when a file the tunnel uses changes, including a Kubernetes ``..data`` swap.

Kubernetes updates a mounted secret by pointing the ``..data`` symlink at a new directory;
the file paths stay the same while what they resolve to changes. So each file is watched by
the identity of what it resolves to (real path, inode, size, mtime), polled every couple of
seconds: cheap, portable, and it sees symlink swaps that inotify on the path would miss.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from zerotls.tls.config import ClientConfig, ServerConfig

if TYPE_CHECKING:
    from zerotls.tunnel.runtime import Tunnel

__all__ = ["files_of", "watch_files"]

log = logging.getLogger("zerotls.tunnel")


def files_of(tunnel: Tunnel) -> list[Path]:
    """The config file and every file it names (certificates, keys, CAs, CRLs, policies)."""
    config = tunnel.config
    paths: list[Path] = [config.source] if config.source is not None else []
    for lst in config.listeners:
        tls_configs: list[ServerConfig | ClientConfig] = [lst.tls] if lst.tls is not None else []
        tls_configs += [r.client_tls for r in lst.routes if r.client_tls is not None]
        for tls in tls_configs:
            paths += [p for p in (tls.cert, tls.key, tls.ca) if p is not None]
            paths += list(tls.crls)
        paths += [r.policy_file for r in lst.routes if r.policy_file is not None]
    return paths


def _fingerprint(path: Path) -> tuple[str, int, int, int] | None:
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return (real, st.st_ino, st.st_size, st.st_mtime_ns)


async def watch_files(tunnel: Tunnel, interval: float = 2.0) -> None:
    """Poll the tunnel's files; reload (atomically, or not at all) when one changes."""
    seen = {p: _fingerprint(p) for p in files_of(tunnel)}
    while True:
        await asyncio.sleep(interval)
        now = {p: _fingerprint(p) for p in seen}
        if now != seen:
            changed = [str(p) for p in seen if now.get(p) != seen[p]]
            log.warning("files changed (%s): reloading", ", ".join(changed))
            await asyncio.sleep(0.2)  # let a writer finish a multi-file update
            # Fingerprint before loading: a file that changes during the reload is then
            # seen as changed again next round, and the reload retried.
            before = {p: _fingerprint(p) for p in files_of(tunnel)}
            tunnel.reload()
            seen = {p: before.get(p, _fingerprint(p)) for p in files_of(tunnel)}
