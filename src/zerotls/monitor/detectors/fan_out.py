"""The fan-out detector: one identity reaching, within an hour, many hosts nobody reaches.

Lateral movement looks like a workstation opening SMB, WinRM, RDP or SSH to a dozen other
workstations; an intrusion spreading outwards like SSH to several external hosts nobody here
ever reached. Neither is a volume or a rhythm: it is *reach*. The feature query counts, per
identity, hour and destination port, the destination hosts that no identity reached in the
baseline (so neither this one nor its peers), leaving out the ports everybody uses for new
hosts all day (web, DNS, NTP). An hour is flagged when those new hosts reach
``fanout_admin_hosts`` on a remote-administration port, or ``fanout_other_hosts`` on any
other port; the alert lists the hosts.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from zerotls.monitor.alerts import Alert, Plot
from zerotls.monitor.detectors._common import Scored, Table, _finish, _rows
from zerotls.monitor.features import Settings, Window

__all__ = ["ADMIN_PORTS", "fan_out"]

ADMIN_PORTS: Final = {
    22: "SSH",
    23: "telnet",
    135: "MS-RPC",
    139: "NetBIOS",
    445: "SMB",
    3389: "RDP",
    5900: "VNC",
    5985: "WinRM",
    5986: "WinRM over TLS",
}
"""Remote administration: how an intruder moves from host to host."""


SCAN_ANSWERED_SHARE: Final = 0.3
"""Below this share of new hosts answering, the sweep is a scan: the probing detector's."""


def fan_out(reach: Table, window: Window, settings: Settings, *, judged: int = 0) -> Scored:
    """Hours in which an identity reached many hosts that nobody reached before.

    One alert per identity, with every port and host it spread to (the hours of one spread
    belong together); the population ranks are taken in is one score per identity, so one
    sweep across many ports does not bury another identity's spread. ``judged`` is how many
    identities were looked at: those that reached no new host at all score 0 (without them,
    two spreads among a handful of identities with a new host or two would rank each other
    down). A sweep that mostly went unanswered is a scan, reported by the probing detector,
    not here.
    """
    by_identity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    best: dict[str, float] = defaultdict(float)
    for r in _rows(reach):
        limit = (
            settings.fanout_admin_hosts
            if int(r["port"]) in ADMIN_PORTS
            else settings.fanout_other_hosts
        )
        score = float(r["new_hosts"]) / float(limit)
        best[r["identity"]] = max(best[r["identity"]], score)
        if score >= 1.0:
            by_identity[r["identity"]].append({**r, "score": score})
    alerts: list[Alert] = []
    for identity, items in by_identity.items():
        items.sort(key=lambda r: (r["hour"], r["port"]))
        hosts = sorted({h for r in items for h in (r["hosts"] or [])})
        answered = sum(int(r["answered"]) for r in items)
        tried = sum(int(r["new_hosts"]) for r in items)
        if tried and answered / tried < SCAN_ANSWERED_SHARE:
            continue  # mostly unanswered: a scan (probing reports it)
        ports = sorted({int(r["port"]) for r in items})
        admin = [p for p in ports if p in ADMIN_PORTS]
        what = ", ".join(
            f"{ADMIN_PORTS[p]} (port {p})" if p in ADMIN_PORTS else f"port {p}" for p in ports
        )
        shown = ", ".join(hosts[:8]) + (f" and {len(hosts) - 8} more" if len(hosts) > 8 else "")
        hours = sorted({int(r["hour"]) for r in items})
        alerts.append(
            Alert(
                detector="fan-out",
                identity=identity,
                destination=None,
                start=hours[0] * 3600.0,
                end=(hours[-1] + 1) * 3600.0,
                score=max(r["score"] for r in items),
                summary=f"{identity} reached {len(hosts)} hosts on {what} within "
                f"{len(hours)} hour(s) that no one here had reached there before: {shown}",
                why=(
                    "reaching many new hosts on a remote-administration port is how lateral "
                    "movement looks (nobody, not this identity nor its peers, reached these "
                    "hosts on that port in the baseline)"
                    if admin
                    else "reaching many hosts nobody reached before, on one port, is how an "
                    "intrusion spreading or a tool sweeping a network looks"
                ),
                evidence={
                    "ports": ports,
                    "services": [ADMIN_PORTS[p] for p in admin],
                    "new_hosts": len(hosts),
                    "answered": answered,
                    "hosts": hosts[:50],
                    "hours": len(hours),
                },
                plot=Plot(
                    kind="series",
                    title=f"new hosts per hour reached by {identity}",
                    x_label="time",
                    y_label="new hosts per hour",
                    observed=tuple((r["hour"] * 3600.0, float(r["new_hosts"])) for r in items),
                    band=(0.0, float(settings.fanout_admin_hosts)),
                ),
            )
        )
    del window
    population = list(best.values())
    population += [0.0] * max(0, judged - len(population))
    return _finish(alerts, population)
