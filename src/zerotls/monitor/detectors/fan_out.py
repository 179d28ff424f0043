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


def fan_out(reach: Table, window: Window, settings: Settings) -> Scored:
    """Hours in which an identity reached many hosts that nobody reached before."""
    by_identity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    population: list[float] = []
    for r in _rows(reach):
        limit = (
            settings.fanout_admin_hosts
            if int(r["port"]) in ADMIN_PORTS
            else settings.fanout_other_hosts
        )
        score = float(r["new_hosts"]) / float(limit)
        population.append(score)
        if score >= 1.0:
            by_identity[r["identity"]].append({**r, "score": score})
    alerts: list[Alert] = []
    for identity, hours in by_identity.items():
        # One alert per identity and port: the hours of one spread belong together.
        by_port: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in hours:
            by_port[int(r["port"])].append(r)
        for port, items in by_port.items():
            items.sort(key=lambda r: r["hour"])
            hosts = sorted({h for r in items for h in (r["hosts"] or [])})
            answered = sum(int(r["answered"]) for r in items)
            service = ADMIN_PORTS.get(port)
            what = f"{service} (port {port})" if service else f"port {port}"
            shown = ", ".join(hosts[:8]) + (f" and {len(hosts) - 8} more" if len(hosts) > 8 else "")
            start, end = items[0]["hour"] * 3600.0, (items[-1]["hour"] + 1) * 3600.0
            alerts.append(
                Alert(
                    detector="fan-out",
                    identity=identity,
                    destination=None,
                    start=start,
                    end=end,
                    score=max(r["score"] for r in items),
                    summary=f"{identity} reached {len(hosts)} hosts on {what} within "
                    f"{len(items)} hour(s) that no one here had reached before: {shown}",
                    why=(
                        "reaching many new hosts on a remote-administration port is how "
                        "lateral movement looks (nobody, not this identity nor its peers, "
                        "reached these hosts in the baseline)"
                        if service
                        else "reaching many hosts nobody reached before, on one port, is how "
                        "an intrusion spreading or a tool sweeping a network looks"
                    ),
                    evidence={
                        "port": port,
                        "service": service or "",
                        "new_hosts": len(hosts),
                        "answered": answered,
                        "hosts": hosts[:50],
                        "hours": len(items),
                    },
                    plot=Plot(
                        kind="series",
                        title=f"new hosts per hour reached by {identity} on {what}",
                        x_label="time",
                        y_label="new hosts per hour",
                        observed=tuple((r["hour"] * 3600.0, float(r["new_hosts"])) for r in items),
                        band=(
                            0.0,
                            float(
                                settings.fanout_admin_hosts
                                if service
                                else settings.fanout_other_hosts
                            ),
                        ),
                    ),
                )
            )
    del window
    return _finish(alerts, population)
