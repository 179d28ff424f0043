"""What the detectors share: the table alias, :class:`Scored`, ranking and formatting helpers,
the pairs table as arrays, and the discounts for popular and local-broadcast destinations.

Nothing here imports numpy or pyarrow at import time (only inside the functions that need
them), so importing the detectors stays cheap.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from zerotls.monitor.alerts import Alert

__all__ = [
    "HOUR",
    "Scored",
    "Table",
    "is_local_broadcast",
    "popularity_factor",
]

HOUR: Final = 3600.0


Table: TypeAlias = Any
"""A feature table: a :class:`pyarrow.Table` (or None where a detector accepts a missing one).
Spelled as Any because pyarrow is an optional dependency without type hints, imported only
inside the functions that use it (see :mod:`zerotls.monitor._deps`)."""


@dataclass(frozen=True, slots=True)
class Scored:
    """A detector's output: its alerts (ranked) and the size of the population judged."""

    alerts: list[Alert] = field(default_factory=list)
    candidates: int = 0


def is_local_broadcast(destination: str | None) -> bool:
    """Multicast and broadcast addresses (SSDP, mDNS, NetBIOS, ...): service discovery on
    the local network, periodic by design and never egress, so the beacon, long-connection
    and new-destination detectors skip them."""
    if not destination:
        return False
    try:
        addr = ipaddress.ip_address(destination)
    except ValueError:
        return False
    return addr.is_multicast or destination == "255.255.255.255"


def is_outside(identity: str | None) -> bool:
    """An identity that is a public IP address: a connection from the internet (inbound),
    not one of ours. SPIFFE IDs, host names and private addresses are inside."""
    try:
        addr = ipaddress.ip_address(identity or "")
    except ValueError:
        return False
    return addr.is_global


def is_internal(name: str | None) -> bool:
    """A private, loopback or link-local address: a host of ours, not the internet (host
    names and SPIFFE IDs are neither this nor :func:`is_outside`)."""
    try:
        addr = ipaddress.ip_address(name or "")
    except ValueError:
        return False
    return addr.is_private or addr.is_loopback or addr.is_link_local


OUTSIDE_WEIGHT = 0.5
"""How much a burst of failures from the internet weighs against the same burst from inside:
every exposed host is scanned all day, while a scan from one of ours means it is taken."""


def _rows(table: Table) -> list[dict[str, Any]]:
    return list(table.to_pylist()) if table is not None else []


def _fmt_bytes(n: float) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


def _fmt_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * HOUR:
        return f"{s / 60:.1f} min"
    return f"{s / HOUR:.1f} h"


def _finish(alerts: list[Alert], population: Sequence[float]) -> Scored:
    ordered = sorted(population)
    import bisect

    ranked = []
    n = len(ordered)
    for a in alerts:
        rank = bisect.bisect_right(ordered, a.score) / n if n else 1.0
        ranked.append(_with_rank(a, rank))
    return Scored(ranked, n)


def _with_rank(alert: Alert, rank: float) -> Alert:
    from dataclasses import replace

    return replace(alert, rank=rank)


@dataclass(frozen=True, slots=True)
class _Pairs:
    """The pairs table as numpy arrays, identities and destinations as integer codes."""

    identities: list[str]
    destinations: list[str]
    identity: Any
    dst: Any
    first_seen: Any
    last_seen: Any
    n_base: Any
    n_window: Any

    @classmethod
    def of(cls, pairs: Table) -> _Pairs:
        import numpy as np
        import pyarrow as pa

        def codes(name: str) -> tuple[list[str], Any]:
            encoded = pairs.column(name).combine_chunks().dictionary_encode()
            if isinstance(encoded, pa.ChunkedArray):  # pragma: no cover - pyarrow versions
                encoded = encoded.combine_chunks()
            values = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            return [str(v) for v in encoded.dictionary.to_pylist()], values

        def num(name: str) -> Any:
            return pairs.column(name).to_numpy(zero_copy_only=False).astype(np.float64)

        identities, identity = codes("identity")
        destinations, dst = codes("dst")
        return cls(
            identities,
            destinations,
            identity,
            dst,
            num("first_seen"),
            num("last_seen"),
            num("n_base"),
            num("n_window"),
        )


def _prevalence(pairs: Table) -> tuple[dict[str, int], dict[str, int], int]:
    """(identities reaching each destination in the baseline, in baseline or window, total)."""
    import numpy as np

    if pairs is None or pairs.num_rows == 0:
        return {}, {}, 0
    p = _Pairs.of(pairs)
    n = len(p.destinations)
    base = np.bincount(p.dst[p.n_base > 0], minlength=n)
    every = np.bincount(p.dst, minlength=n)
    return (
        {d: int(c) for d, c in zip(p.destinations, base, strict=True) if c},
        {d: int(c) for d, c in zip(p.destinations, every, strict=True)},
        len(p.identities),
    )


def popularity_factor(identities: int) -> float:
    """1 for a destination one identity reaches, 0.67 for 2, 0.5 for 4, 0.25 for 64."""
    return 1.0 / (1.0 + 0.5 * math.log2(max(identities, 1)))


def _runs(flagged: Sequence[tuple[Any, ...]], step: int = 1) -> Iterable[list[tuple[Any, ...]]]:
    """Split items sorted by their first field into runs of consecutive values."""
    run: list[tuple[Any, ...]] = []
    for item in sorted(flagged, key=lambda g: g[0]):
        if run and item[0] - run[-1][0] > step:
            yield run
            run = []
        run.append(item)
    if run:
        yield run
