"""Judge `zerotls monitor` on traffic it was not tuned to: two independent scenario
generators, one scorer, two history lengths, one table.

Generators (both write real Zeek conn.log + ssl.log TSV that go through `Store.ingest`):

- ``office``: the generator of bench/monitor_eval.py (60 hosts, Poisson hours, shared SaaS),
  the one the detectors' defaults were tuned on. Its ``probing`` label is called
  ``scanning`` here, its ``new-destination-spread`` labels keep their name.
- ``enterprise`` (this file): a 10.10.0.0/16 network modelled another way. Users, not
  hosts: each workstation's user arrives and leaves at their own time, dips at lunch, works
  harder on Mondays and leaves early on Fridays, sometimes logs in on a weekend, and either
  switches the machine off at night or leaves it on. Activity is bursts (a page, a mail, a
  file) of several connections, each with a DNS query to a domain controller first; mixes of
  departmental SaaS (one department per subnet 10.10.1-4.x), internal mail/intranet/SMB,
  a long-tailed web, and audio/video calls (UDP, hundreds of MB an hour). Servers in
  10.10.10.x run around the clock: app servers to a database and a payment API, a mail
  relay to ever-new MX hosts, a build server pulling packages, domain controllers
  forwarding DNS, a monitoring server polling every host (S0 when a workstation is off),
  a DMZ web server taking connections from the internet (external identities) and the
  internet's background scanning.
  Benign traps, unlabelled: two NTP servers polling one external NTP server (48-byte
  payloads, poll interval doubling 64 -> 1024 s, reset by a weekly reboot); hourly update
  checks from every host to a CDN; a 5-minute sync client on three workstations; nightly
  backups (weekly full on Saturday) from file and database servers to 10.10.20.5; a new
  laptop joining on day two; a user back from a week's holiday in the last day; helpdesk
  workstations RDP-ing into a few workstations every day; developers SSH-ing to cloud VMs
  (now and then a new one); a daily internet scanner against the DMZ; and one large
  benign upload (about 1.5 GB to the corporate file-sharing service) in the last day.
  Attacks, labelled, all in the last 24 h: exfiltration at about 14x the host's usual
  hourly bytes out to a new external IP and to a usual destination; beacons with 15 % and
  30 % jitter to new external hosts; lateral movement (one workstation to 12 others on
  445/5985/3389 within an hour); external fan-out (SSH to 7 new external hosts within an
  hour); scanning (refused and unanswered connections across hosts and ports).

Scorer (shared): an alert matches an attack when it names the attack's identity and, for
kinds with destinations, names one of them, or names no destination and overlaps the
attack's time (one hour of slack either side); for kinds without destinations (scanning) it
must overlap the time. An alert that names 24 hosts or more (in identity, destination or an
evidence list of hosts) matches nothing. K = 3 x the number of labelled attacks:
precision@K over the top K alerts, recall per attack type over the top 10K. Alerts are also
counted per detector (all, in the top K, true in the top K).

Runs: both generators x history 48 h and 15 days (the scenario is generated that long;
detection judges the last 24 h against the rest:
``default_window(store, since_seconds=24 h, baseline_seconds=history - 24 h)``).

Sizes chosen for the 2-core budget (whole run about 45 s, well under 5 min): ``office`` with 60 hosts
(its default), ``enterprise`` with 200 hosts (176 workstations + 24 servers, plus the
laptop and the internet clients): about 1.4 million connections over 15 days, 0.25 million
over 48 h.

Run:  .venv/bin/python bench/monitor_generators.py [--seed 0] [--hosts 200]
      [--office-hosts 60] [--only enterprise] [--verbose] (every top-K alert with its summary)
      [--explain] (the alerts on each attacker, false alerts by trap) [--no-monitoring]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import math
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import monitor_eval as office  # the first generator

from zerotls.monitor.engine import default_window, detect
from zerotls.monitor.store import Store

DAY = 86400.0
HOUR = 3600.0
T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday
MANY_HOSTS = 24
"""An alert naming this many hosts or more matches no attack (it names everyone)."""

DESTINATION_KINDS = frozenset(
    {"exfiltration", "beacon", "lateral-movement", "fan-out", "new-destination-spread"}
)


@dataclass(frozen=True)
class Attack:
    kind: str
    identity: str
    destinations: tuple[str, ...]
    start: float
    end: float
    note: str = ""


# ---------------------------------------------------------------------------------------------
# Zeek writer


_PUBLIC_FIRST = (23, 31, 34, 45, 52, 62, 77, 81, 89, 91, 104, 109, 130, 141, 151, 176, 185, 193)


def pub(name: str) -> str:
    """A stable public IPv4 address for a name."""
    h = hashlib.sha256(name.encode()).digest()
    return f"{_PUBLIC_FIRST[h[0] % len(_PUBLIC_FIRST)]}.{h[1]}.{h[2]}.{1 + h[3] % 253}"


_CONN_TYPES = dict(zip(office.CONN_FIELDS, office.CONN_TYPES, strict=True))
_TLS13 = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
_TLS12 = ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
_HISTORY = {
    ("tcp", "SF"): "ShADadFf",
    ("tcp", "RSTO"): "ShADadR",
    ("tcp", "S0"): "S",
    ("tcp", "REJ"): "Sr",
    ("tcp", "S1"): "ShADad",
    ("udp", "SF"): "Dd",
    ("udp", "S0"): "D",
}


class ZeekLog:
    """conn.log and ssl.log lines, with per-host hourly bytes out kept for the labels."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.conn: list[tuple[float, str]] = []
        self.ssl: list[tuple[float, str]] = []
        self.n = 0
        self.out_hour: dict[tuple[str, int], int] = defaultdict(int)

    def add(
        self,
        ts: float,
        src: str,
        dst_ip: str,
        port: int,
        *,
        proto: str = "tcp",
        service: str = "-",
        duration: float = 0.1,
        out: int = 0,
        inn: int = 0,
        state: str = "SF",
        sni: str | None = None,
        tls: bool = False,
    ) -> None:
        self.n += 1
        uid = f"C{self.n:08x}{hashlib.blake2s(str(self.n).encode(), digest_size=5).hexdigest()}"
        sport = 49152 + self.rng.randrange(16383)
        tcp = proto == "tcp"
        if state == "REJ":
            dur, ob, rb, opk, rpk = f"{self.rng.uniform(1e-4, 2e-3):.6f}", "0", "0", 1, 1
        elif state == "S0":
            opk = 1 + self.rng.randrange(3) if tcp else 1
            dur = "-" if opk == 1 else f"{3.0 * (opk - 1) + self.rng.uniform(0, 0.01):.6f}"
            ob, rb, rpk = "0" if tcp else str(out), "0", 0
        else:
            dur, ob, rb = f"{duration:.6f}", str(out), str(inn)
            opk = (3 if tcp else 1) + out // 1380
            rpk = (2 if tcp else 1) + inn // 1380
        hdr = 40 if tcp else 28
        local_o = "T" if src.startswith("10.") else "F"
        local_r = "T" if dst_ip.startswith("10.") else "F"
        history = _HISTORY.get((proto, state), "ShADadFf")
        if tls or sni:
            service = "ssl"
        self.conn.append(
            (
                ts,
                f"{ts:.6f}\t{uid}\t{src}\t{sport}\t{dst_ip}\t{port}\t{proto}\t{service}\t{dur}\t"
                f"{ob}\t{rb}\t{state}\t{local_o}\t{local_r}\t0\t{history}\t{opk}\t"
                f"{int(ob) + hdr * opk}\t{rpk}\t{int(rb) + hdr * rpk}\t(empty)\n",
            )
        )
        if state not in ("REJ", "S0"):
            self.out_hour[(src, int(ts // HOUR))] += out
        if (tls or sni) and state in ("SF", "RSTO", "S1"):
            v13 = self.rng.random() < 0.8
            cipher = self.rng.choice(_TLS13 if v13 else _TLS12)
            curve = "x25519" if self.rng.random() < 0.85 else "secp256r1"
            resumed = "T" if self.rng.random() < 0.3 else "F"
            self.ssl.append(
                (
                    ts,
                    f"{ts:.6f}\t{uid}\t{src}\t{sport}\t{dst_ip}\t{port}\t"
                    f"{'TLSv13' if v13 else 'TLSv12'}\t{cipher}\t{curve}\t{sni or '-'}\t"
                    f"{resumed}\tT\n",
                )
            )

    def write(self, directory: Path) -> int:
        self.conn.sort(key=lambda x: x[0])
        self.ssl.sort(key=lambda x: x[0])
        types = [_CONN_TYPES[f] for f in office.CONN_FIELDS]
        with (directory / "conn.log").open("w") as f:
            f.write(office._header("conn", office.CONN_FIELDS, types))
            f.writelines(line for _, line in self.conn)
            f.write("#close\t2026-01-20-00-00-00\n")
        with (directory / "ssl.log").open("w") as f:
            f.write(office._header("ssl", office.SSL_FIELDS, office.SSL_TYPES))
            f.writelines(line for _, line in self.ssl)
        return len(self.conn)


# ---------------------------------------------------------------------------------------------
# The enterprise population


@dataclass(frozen=True)
class Service:
    name: str  # the server name (SNI); "" for none
    ips: tuple[str, ...]
    port: int = 443
    proto: str = "tcp"
    out_mu: float = 8.0
    in_mu: float = 10.0


def _saas(name: str, n_ips: int = 3, **kw: Any) -> Service:
    return Service(name, tuple(pub(f"{name}#{k}") for k in range(n_ips)), **kw)


DC = ("10.10.10.2", "10.10.10.3")
NTP_SERVERS = ("10.10.10.4", "10.10.10.5")
FILE_SERVERS = ("10.10.10.20", "10.10.10.21")
MAIL, INTRANET, DB, MONITOR, DMZ_WEB, BUILD, REGISTRY = (
    "10.10.10.25",
    "10.10.10.30",
    "10.10.10.40",
    "10.10.10.50",
    "10.10.10.80",
    "10.10.10.90",
    "10.10.10.91",
)
BACKUP_HOST = "10.10.20.5"
EXTERNAL_NTP = pub("ntp.time-source.example")
DNS_FORWARDERS = ("9.9.9.9", "149.112.112.112")
LAPTOP = "10.10.3.220"

COMMON_SAAS = (
    _saas("files.corpdrive.example", out_mu=9.5, in_mu=11.0),
    _saas("login.idp.example", out_mu=7.5, in_mu=8.5),
    _saas("chat.collab.example"),
    _saas("calendar.collab.example"),
    _saas("www.searchengine.example", n_ips=6, in_mu=10.5),
)
DEPT_SAAS = {
    "finance": ("bank-portal.example", "expenses.saas.example", "payroll.saas.example"),
    "engineering": ("git.codehost.example", "ci.buildcloud.example", "docs.devref.example"),
    "sales": ("crm.salescloud.example", "mail.marketing.example", "slides.present.example"),
    "it": ("console.cloudops.example", "status.vendor.example", "tickets.helpdesk.example"),
}
DEPTS = ("finance", "engineering", "sales", "it")
MISC_SAAS = tuple(_saas(f"app{i}.svc{i % 7}.example") for i in range(30))
CALL_MEDIA = tuple(pub(f"media.collab.example#{k}") for k in range(6))
UPDATE_CDN = _saas("update.cdn-vendor.net", n_ips=8)
SYNC = _saas("sync.boxdrive.example", n_ips=2)
CLOUD_VMS = tuple(pub(f"vm{i}.cloud.example") for i in range(40))


@dataclass
class User:
    ip: str
    dept: str
    arrive: float
    leave: float
    lunch: float
    lunch_len: float
    rate: float
    services: list[Service]
    weights: list[float]
    browse: float
    calls: float
    leaves_on: bool
    joined: float = T0
    away: tuple[int, int] | None = None
    role: str = ""
    on: list[tuple[float, float]] = field(default_factory=list)
    segments: list[tuple[float, float, float]] = field(default_factory=list)

    def is_on(self, ts: float) -> bool:
        i = bisect.bisect_right(self.on, (ts, math.inf)) - 1
        return i >= 0 and self.on[i][0] <= ts < self.on[i][1]


def _poisson(rng: random.Random, lam: float) -> int:
    return office._poisson(rng, lam)


def _user(rng: random.Random, ip: str, dept: str) -> User:
    own = [_saas(n) for n in DEPT_SAAS[dept]]
    personal = rng.sample(MISC_SAAS, rng.randrange(0, 5))
    services = [*COMMON_SAAS, *own, *personal]
    weights = [3.0, 1.0, 2.0, 1.0, 2.5] + [rng.uniform(1.0, 4.0) for _ in own]
    weights += [rng.uniform(0.2, 1.5) for _ in personal]
    return User(
        ip=ip,
        dept=dept,
        arrive=rng.gauss(8.4, 0.6),
        leave=rng.gauss(17.3, 0.7),
        lunch=rng.gauss(12.3, 0.3),
        lunch_len=max(0.3, rng.gauss(0.75, 0.2)),
        rate=rng.lognormvariate(math.log(22), 0.45),
        services=services,
        weights=weights,
        browse=rng.choice([0.0, 0.1, 0.25, 0.4, 0.6]),
        calls=rng.choice([0.0, 0.5, 1.0, 2.0, 3.0]),
        leaves_on=rng.random() < 0.5,
    )


def _plan(rng: random.Random, u: User, days: int) -> None:
    """Power-on intervals and activity segments (start, end, level) of one workstation."""
    end = T0 + days * DAY
    if u.leaves_on:
        u.on.append((u.joined, end))
    for d in range(days):
        day0 = T0 + d * DAY
        if u.away and u.away[0] <= d <= u.away[1]:
            continue
        wd = d % 7
        if wd >= 5:
            if rng.random() < 0.05:
                s = day0 + rng.uniform(10, 17) * HOUR
                if s < u.joined:
                    continue
                u.segments.append((s, s + 2 * HOUR, 0.6))
                if not u.leaves_on:
                    u.on.append((s - 300, s + 2 * HOUR + 120))
            continue
        arrive = u.arrive + rng.gauss(0, 0.25)
        leave = u.leave + rng.gauss(0, 0.4) - (0.8 if wd == 4 else 0.0)
        lunch = u.lunch + rng.gauss(0, 0.15)
        lunch_len = u.lunch_len * rng.uniform(0.7, 1.3)
        level = 1.15 if wd == 0 else (0.9 if wd == 4 else 1.0)
        a, b = day0 + arrive * HOUR, day0 + leave * HOUR
        if b <= u.joined:
            continue
        a = max(a, u.joined)
        l0, l1 = day0 + lunch * HOUR, day0 + (lunch + lunch_len) * HOUR
        u.segments += [
            (a, l0, level),
            (l0, l1, 0.25 * level),
            (l1, b - HOUR, level),
            (b - HOUR, b, 0.7 * level),
        ]
        if not u.leaves_on:
            u.on.append((max(a - 600, u.joined), b + 300))
    u.on.sort()
    if u.away and u.leaves_on:  # switched off for the holiday
        a, b = T0 + u.away[0] * DAY, T0 + (u.away[1] + 1) * DAY
        u.on = [(s, e) for s, e in [(u.joined, a), (b, end)] if e > s]


def _dns(log: ZeekLog, rng: random.Random, ts: float, src: str) -> None:
    dc = DC[int(src.rsplit(".", 1)[1]) % 2]
    log.add(
        ts,
        src,
        dc,
        53,
        proto="udp",
        service="dns",
        duration=rng.uniform(3e-4, 0.03),
        out=rng.randrange(38, 75),
        inn=rng.randrange(70, 420),
    )
    if rng.random() < 0.3:
        log.add(
            ts + 0.001,
            dc,
            rng.choice(DNS_FORWARDERS),
            53,
            proto="udp",
            service="dns",
            duration=rng.uniform(0.005, 0.08),
            out=rng.randrange(38, 75),
            inn=rng.randrange(70, 420),
        )


def _tls(
    log: ZeekLog,
    rng: random.Random,
    ts: float,
    src: str,
    svc: Service,
    *,
    scale: float = 1.0,
    upload: float = 0.0,
) -> None:
    out = int(rng.lognormvariate(svc.out_mu, 1.0) * scale)
    if upload and rng.random() < upload:
        out += int(rng.lognormvariate(13.5, 1.2))
    log.add(
        ts,
        src,
        rng.choice(svc.ips),
        svc.port,
        proto=svc.proto,
        duration=rng.lognormvariate(0.5, 1.3),
        out=out,
        inn=int(rng.lognormvariate(svc.in_mu, 1.4) * scale),
        service="http" if svc.port == 80 else "-",
        sni=svc.name or None,
        tls=svc.port == 443,
    )


_MAIL = Service("mail.corp.example", (MAIL,), out_mu=8.0, in_mu=9.5)
_INTRANET = Service("intranet.corp.example", (INTRANET,), in_mu=10.5)


def _workstation_traffic(log: ZeekLog, rng: random.Random, u: User) -> None:
    """Bursts of connections during the user's activity segments, plus the domain logon."""
    for s, e, level in u.segments:
        if e <= s:
            continue
        n = _poisson(rng, u.rate * level * (e - s) / HOUR)
        for _ in range(n):
            t = rng.uniform(s, e)
            r = rng.random()
            if r < 0.12:
                svc = _MAIL
            elif r < 0.2:
                svc = _INTRANET
            elif r < 0.28:
                fs = FILE_SERVERS[DEPTS.index(u.dept) % 2]
                log.add(
                    t,
                    u.ip,
                    fs,
                    445,
                    service="smb",
                    duration=rng.lognormvariate(1.0, 1.5),
                    out=int(rng.lognormvariate(8.5, 1.6)),
                    inn=int(rng.lognormvariate(11.0, 1.8)),
                )
                continue
            elif rng.random() < u.browse:
                site = min(int(rng.paretovariate(0.7)), 10**7)
                name = f"www.site{site}.example"
                svc = Service(name, (pub(name),), in_mu=11.0)
                if rng.random() < 0.1:  # plain HTTP: no server name, the address is the host
                    svc = Service("", (pub(name),), port=80, in_mu=11.0)
            else:
                svc = rng.choices(u.services, weights=u.weights)[0]
            if rng.random() < 0.4:
                _dns(log, rng, t - 0.02, u.ip)
            for k in range(1 + int(rng.expovariate(0.8))):
                _tls(log, rng, t + k * rng.uniform(0.05, 8.0), u.ip, svc, upload=0.05)
    # Logon at the start of each day's first segment: Kerberos, LDAP, SMB to a DC.
    days_seen: set[int] = set()
    for s, _e, _lvl in u.segments:
        d = int((s - T0) // DAY)
        if d in days_seen:
            continue
        days_seen.add(d)
        dc = DC[d % 2]
        for port, svc_name in ((88, "krb_tcp"), (389, "ldap"), (445, "smb")):
            log.add(
                s + rng.uniform(0, 20),
                u.ip,
                dc,
                port,
                service=svc_name,
                duration=rng.uniform(0.01, 2.0),
                out=rng.randrange(800, 6000),
                inn=rng.randrange(1500, 20000),
            )
        # The chat client's websocket lasts the working day.
        day_end = max(e for s2, e, _ in u.segments if int((s2 - T0) // DAY) == d)
        chat = COMMON_SAAS[2]
        log.add(
            s + 60,
            u.ip,
            chat.ips[0],
            443,
            duration=max(60.0, day_end - s - 120),
            out=rng.randrange(200_000, 2_000_000),
            inn=rng.randrange(500_000, 8_000_000),
            sni=chat.name,
            state="RSTO",
        )
        # Calls: UDP media, audio or video, for 15-60 min.
        for _ in range(_poisson(rng, u.calls)):
            t = rng.uniform(s, day_end - 0.5 * HOUR)
            if t <= s:
                continue
            dur = rng.uniform(15, 60) * 60
            rate = (
                rng.uniform(150_000, 300_000) if rng.random() < 0.3 else rng.uniform(6_000, 12_000)
            )
            log.add(
                t,
                u.ip,
                rng.choice(CALL_MEDIA),
                3478 + rng.randrange(4),
                proto="udp",
                duration=dur,
                out=int(rate * dur),
                inn=int(rate * dur * rng.uniform(0.8, 2.5)),
            )


def _on_intervals(u: User, step: float, phase: float) -> Iterable[float]:
    """Times every ``step`` seconds (with the phase) while the machine is on."""
    for a, b in u.on:
        t = a + phase % step
        while t < b:
            yield t
            t += step


def generate_enterprise(
    directory: Path, *, seed: int, hosts: int = 200, days: int = 15, monitoring: bool = True
) -> tuple[list[Attack], dict[str, str], int]:
    """Write the enterprise scenario; returns (attacks, traps: identity -> name, connections).
    ``monitoring=False`` leaves out the monitoring server's polls (an ablation)."""
    rng = random.Random(1000 + seed)
    log = ZeekLog(rng)
    end = T0 + days * DAY
    window = end - DAY
    n_servers = 24
    n_ws = max(40, hosts - n_servers)
    traps: dict[str, str] = {}
    # Workstations: one department per subnet.
    users: list[User] = []
    for i in range(n_ws):
        dept = DEPTS[i % 4]
        ip = f"10.10.{1 + i % 4}.{10 + i // 4}"
        users.append(_user(rng, ip, dept))
    laptop = _user(rng, LAPTOP, "sales")
    laptop.joined = T0 + DAY + rng.uniform(9, 10) * HOUR
    laptop.leaves_on = False
    users.append(laptop)
    traps[LAPTOP] = "new laptop"
    plain = [u for u in users if u.ip != LAPTOP]
    special = rng.sample([u for u in plain if u.leaves_on], 3)
    for u in special:
        u.role = "sync"
        traps[u.ip] = "sync client"
    helpdesk = [u for u in plain if u.dept == "it" and not u.role][:2]
    for u in helpdesk:
        u.role = "helpdesk"
        traps[u.ip] = "helpdesk RDP"
    devs = [u for u in plain if u.dept == "engineering" and not u.role][:6]
    for u in devs:
        u.role = "dev"
        traps[u.ip] = "dev SSH"
    vacation = next(u for u in plain if not u.role and u.dept == "finance")
    vacation.role = "vacation"
    if days >= 6:
        vacation.away = (3, days - 2)
        traps[vacation.ip] = "back from holiday"
    uploader = next(u for u in plain if not u.role and u.dept == "sales")
    uploader.role = "uploader"
    traps[uploader.ip] = "large benign upload"
    for u in users:
        _plan(rng, u, days)
        _workstation_traffic(log, rng, u)
    # Every host: hourly update check; workstations: hourly NTP to the internal servers.
    servers = [f"10.10.10.{i}" for i in (2, 3, 4, 5, 20, 21, 25, 30, 40, 50, 80, 90, 91)]
    servers += [f"10.10.10.{100 + i}" for i in range(n_servers - len(servers))]
    apps = servers[13:]
    always = User(  # the servers' power plan
        ip="",
        dept="",
        arrive=0,
        leave=0,
        lunch=0,
        lunch_len=0,
        rate=0,
        services=[],
        weights=[],
        browse=0,
        calls=0,
        leaves_on=True,
        on=[(T0, end)],
    )
    for h in [u.ip for u in users] + servers:
        plan = next((u for u in users if u.ip == h), always)
        for t in _on_intervals(plan, HOUR, rng.uniform(0, HOUR)):
            log.add(
                t + rng.uniform(-45, 45),
                h,
                rng.choice(UPDATE_CDN.ips),
                443,
                duration=rng.uniform(0.1, 0.6),
                out=rng.randrange(1100, 1500),
                inn=rng.randrange(3500, 5200),
                sni=UPDATE_CDN.name,
            )
        if plan is not always:
            for t in _on_intervals(plan, HOUR, rng.uniform(0, HOUR)):
                log.add(
                    t + rng.uniform(-5, 5),
                    h,
                    NTP_SERVERS[rng.randrange(2)],
                    123,
                    proto="udp",
                    service="ntp",
                    duration=rng.uniform(2e-4, 2e-3),
                    out=48,
                    inn=48,
                )
    # NTP servers poll one external server: 64 s doubling to 1024 s, reset by a weekly reboot.
    for h in NTP_SERVERS:
        t, poll, steady = T0 + rng.uniform(0, 64), 64.0, 0
        while t < end:
            log.add(
                t,
                h,
                EXTERNAL_NTP,
                123,
                proto="udp",
                service="ntp",
                duration=rng.uniform(0.01, 0.05),
                out=48,
                inn=48,
            )
            steady += 1
            if steady >= 8 and poll < 1024:
                poll, steady = poll * 2, 0
            nxt = t + poll * rng.uniform(0.98, 1.02)
            if int((nxt - T0) // (7 * DAY)) != int((t - T0) // (7 * DAY)):  # Monday reboot
                poll, steady = 64.0, 0
            t = nxt
        traps[h] = "NTP poll"
    # Sync client every 5 minutes while on.
    for u in special:
        for t in _on_intervals(u, 300.0, rng.uniform(0, 300)):
            log.add(
                t + rng.uniform(-8, 8),
                u.ip,
                rng.choice(SYNC.ips),
                443,
                duration=rng.uniform(0.2, 0.8),
                out=rng.randrange(500, 750),
                inn=rng.randrange(900, 1600),
                sni=SYNC.name,
            )
    # Helpdesk RDP / WinRM into a few workstations each working day.
    for u in helpdesk:
        for s, e, level in u.segments:
            if level < 0.5 or e - s < HOUR:
                continue
            for _ in range(_poisson(rng, 0.8)):
                target = rng.choice(plain).ip
                if target == u.ip:
                    continue
                port = rng.choice([3389, 3389, 5985])
                t = rng.uniform(s, e)
                dur = rng.uniform(120, 2400) if port == 3389 else rng.uniform(1, 30)
                log.add(
                    t,
                    u.ip,
                    target,
                    port,
                    service="rdp" if port == 3389 else "http",
                    duration=dur,
                    out=int(dur * rng.uniform(500, 3000)),
                    inn=int(dur * rng.uniform(5000, 40000)),
                )
    # Developers: SSH to the code host and their own cloud VMs; now and then a new VM.
    for u in devs:
        mine = rng.sample(CLOUD_VMS, 2)
        for s, e, level in u.segments:
            if level < 0.5:
                continue
            for _ in range(_poisson(rng, 3 * (e - s) / HOUR)):
                dst = rng.choice([pub("git.codehost.example#0"), *mine])
                dur = rng.lognormvariate(2.0, 2.0)
                log.add(
                    rng.uniform(s, e),
                    u.ip,
                    dst,
                    22,
                    service="ssh",
                    duration=dur,
                    out=int(rng.lognormvariate(8.5, 1.2)),
                    inn=int(rng.lognormvariate(9.5, 1.5)),
                )
            if rng.random() < 0.04:
                vm = pub(f"fresh{rng.randrange(10**6)}.cloud.example")
                log.add(
                    rng.uniform(s, e),
                    u.ip,
                    vm,
                    22,
                    service="ssh",
                    duration=rng.uniform(30, 900),
                    out=rng.randrange(3000, 40000),
                    inn=rng.randrange(5000, 200000),
                )

    # Servers around the clock.
    def load(t: float) -> float:
        hod = (t - T0) % DAY / HOUR
        wd = int((t - T0) // DAY) % 7
        business = math.exp(-(((hod - 13.0) / 4.0) ** 2)) * (1.0 if wd < 5 else 0.3)
        return 0.25 + 0.75 * business

    payment = _saas("api.payments.example", n_ips=2, out_mu=7.5, in_mu=7.5)
    for hour in range(days * 24):
        t0 = T0 + hour * HOUR
        lv = load(t0 + 1800)
        for a in apps:
            for _ in range(_poisson(rng, 25 * lv)):
                log.add(
                    t0 + rng.uniform(0, HOUR),
                    a,
                    DB,
                    5432,
                    service="postgresql",
                    duration=rng.lognormvariate(-1.0, 1.2),
                    out=int(rng.lognormvariate(7.5, 1.0)),
                    inn=int(rng.lognormvariate(9.5, 1.5)),
                )
            for _ in range(_poisson(rng, 6 * lv)):
                _tls(log, rng, t0 + rng.uniform(0, HOUR), a, payment)
        # Mail relay: to the big providers and to ever-new MX hosts.
        for _ in range(_poisson(rng, 30 * lv)):
            if rng.random() < 0.6:
                mx = pub(f"mx{rng.randrange(12)}.bigmail.example")
            else:
                mx = pub(f"mx.domain{min(int(rng.paretovariate(0.6)), 10**7)}.example")
            log.add(
                t0 + rng.uniform(0, HOUR),
                MAIL,
                mx,
                25,
                service="smtp,ssl",
                duration=rng.lognormvariate(0.5, 1.0),
                out=int(rng.lognormvariate(10.0, 1.5)),
                inn=rng.randrange(400, 1500),
            )
        # Build server: package pulls on working hours, artifacts pushed to the registry.
        if load(t0) > 0.6:
            for _ in range(_poisson(rng, 4)):
                t = t0 + rng.uniform(0, HOUR)
                for reg in ("pypi.pkgs.example", "npm.pkgs.example"):
                    for _ in range(rng.randrange(3, 15)):
                        _tls(log, rng, t + rng.uniform(0, 120), BUILD, _saas(reg, in_mu=13.0))
                log.add(
                    t + 200,
                    BUILD,
                    REGISTRY,
                    5000,
                    service="http",
                    duration=rng.uniform(5, 60),
                    out=int(rng.lognormvariate(18.0, 0.8)),
                    inn=rng.randrange(2000, 9000),
                )
        # Internet clients of the DMZ web server, and the internet's background SYNs.
        for _ in range(_poisson(rng, 50 * (0.5 + 0.5 * lv))):
            client = pub(f"client{min(int(rng.paretovariate(0.9)), 3000)}")
            log.add(
                t0 + rng.uniform(0, HOUR),
                client,
                DMZ_WEB,
                443,
                duration=rng.lognormvariate(0.0, 1.5),
                out=int(rng.lognormvariate(7.0, 1.0)),
                inn=int(rng.lognormvariate(11.0, 1.3)),
                sni="www.corp.example",
            )
        for _ in range(_poisson(rng, 12)):
            log.add(
                t0 + rng.uniform(0, HOUR),
                pub(f"noise{rng.randrange(10**7)}"),
                DMZ_WEB,
                rng.choice([22, 23, 80, 445, 3389, 8080, 5900, 1433]),
                state="S0",
            )
    for d in range(days):
        # A research scanner sweeps the DMZ once a day.
        scanner = pub(f"scanner-day{d}")
        traps[scanner] = "internet scanner"
        t = T0 + d * DAY + rng.uniform(0, DAY - 600)
        for i in range(60):
            port = rng.choice([21, 22, 23, 25, 80, 110, 143, 443, 445, 993, 3306, 3389, 8080])
            log.add(
                t + i * 2.5,
                scanner,
                DMZ_WEB,
                port,
                state="SF" if port in (80, 443) else "REJ",
                out=0,
                inn=0,
                duration=0.05,
            )
        # Nightly backups (full on Saturday) to the backup host.
        full = d % 7 == 5
        for h, size in ((FILE_SERVERS[0], 30e9), (FILE_SERVERS[1], 18e9), (DB, 7e9)):
            out = int(size * rng.uniform(0.7, 1.3) * (6 if full else 1))
            log.add(
                T0 + d * DAY + 1 * HOUR + rng.uniform(0, 900),
                h,
                BACKUP_HOST,
                9103,
                duration=out / rng.uniform(80e6, 150e6),
                out=out,
                inn=int(out * 0.001),
            )
            traps[h] = "nightly backup"
    # Monitoring: SNMP to every server every 5 min, agent on every workstation every 15 min.
    traps[MONITOR] = "monitoring poll"
    for h in servers if monitoring else []:
        if h == MONITOR:
            continue
        t = T0 + rng.uniform(0, 300)
        while t < end:
            log.add(
                t,
                MONITOR,
                h,
                161,
                proto="udp",
                service="snmp",
                duration=rng.uniform(0.001, 0.02),
                out=rng.randrange(80, 120),
                inn=rng.randrange(300, 900),
            )
            t += 300
    for u in users if monitoring else []:
        t = max(T0, u.joined) + rng.uniform(0, 900)
        while t < end:
            if u.is_on(t):
                log.add(
                    t,
                    MONITOR,
                    u.ip,
                    9182,
                    service="http",
                    duration=rng.uniform(0.02, 0.2),
                    out=rng.randrange(200, 300),
                    inn=rng.randrange(20000, 60000),
                )
            elif t > u.joined:
                log.add(t, MONITOR, u.ip, 9182, state="S0")
            t += 900

    # -- attacks, in the last day --------------------------------------------------------
    arng = random.Random(2000 + seed)  # victims and times: the same for every history
    attacks: list[Attack] = []
    pool = [u for u in plain if not u.role and u.leaves_on and not u.away]
    arng.shuffle(pool)
    exfil_new, exfil_usual, beacon1, beacon2, lateral, fanout, scanner_u = pool[:7]

    def usual_hourly(u: User) -> float:
        vals = [
            log.out_hour.get((u.ip, int((T0 + d * DAY) // HOUR) + h), 0)
            for d in range(days - 1)
            if d % 7 < 5
            for h in range(9, 17)
        ]
        vals = [v for v in vals if v > 0] or [1_000_000]
        return float(sorted(vals)[len(vals) // 2])

    def exfil(u: User, dst_ip: str, sni: str | None, start_h: float, label_dst: str) -> None:
        per_hour = 14.0 * usual_hourly(u)
        s = window + start_h * HOUR + arng.uniform(0, 600)
        n = 24
        for i in range(2 * n):
            log.add(
                s + i * HOUR / n + arng.uniform(0, 30),
                u.ip,
                dst_ip,
                443,
                duration=arng.uniform(20, 90),
                out=int(per_hour / n * arng.uniform(0.8, 1.2)),
                inn=arng.randrange(4000, 12000),
                sni=sni,
                tls=True,
            )
        note = f"({per_hour / 1e6:.1f} MB/h = 14 x {per_hour / 14e6:.2f} MB/h usual)"
        attacks.append(Attack("exfiltration", u.ip, (label_dst,), s, s + 2 * HOUR, note))

    drop = pub("drop.exfil-host.example")
    exfil(exfil_new, drop, None, 14.0, drop)
    top = max(range(len(exfil_usual.services)), key=lambda i: exfil_usual.weights[i])
    svc = exfil_usual.services[top]
    exfil(exfil_usual, svc.ips[0], svc.name, 11.0, svc.name)
    # Beacons with 15 % and 30 % jitter to new external hosts.
    for u, period, jitter, sni in (
        (beacon1, 300.0, 0.15, "img.static-cdn-assets.example"),
        (beacon2, 900.0, 0.30, None),
    ):
        ip = pub(f"c2-{period}")
        dst = sni or ip
        t = window + arng.uniform(0.2, 2.0) * HOUR
        first = t
        while t < end - 60:
            log.add(
                t,
                u.ip,
                ip,
                443,
                duration=arng.uniform(0.2, 1.5),
                out=int(arng.gauss(380, 25)),
                inn=int(max(200, arng.gauss(1400, 400))),
                sni=sni,
                tls=True,
            )
            last = t
            t += period * (1 + arng.uniform(-jitter, jitter))
        attacks.append(Attack("beacon", u.ip, (dst,), first, last))
    # Lateral movement: 12 other workstations on 445, 5985, 3389 within an hour.
    targets = arng.sample([u.ip for u in plain if u is not lateral and u.ip not in traps], 12)
    s = window + 13 * HOUR + arng.uniform(0, 600)
    t = s
    for target in targets:
        t += arng.uniform(60, 280)
        log.add(t, lateral.ip, target, 445, service="smb", duration=1.2, out=4200, inn=6100)
        port = arng.choice([5985, 3389])
        log.add(
            t + arng.uniform(2, 20),
            lateral.ip,
            target,
            port,
            service="http" if port == 5985 else "rdp",
            duration=arng.uniform(3, 120),
            out=arng.randrange(5000, 90000),
            inn=arng.randrange(8000, 400000),
        )
    attacks.append(Attack("lateral-movement", lateral.ip, tuple(targets), s, t + 120))
    # External fan-out: SSH to 7 new external hosts within an hour.
    hosts7 = tuple(pub(f"ssh-target-{i}-{seed}") for i in range(7))
    s = window + 16 * HOUR + arng.uniform(0, 600)
    t = s
    for h in hosts7:
        t += arng.uniform(120, 480)
        log.add(
            t,
            fanout.ip,
            h,
            22,
            service="ssh",
            duration=arng.uniform(2, 60),
            out=arng.randrange(2500, 30000),
            inn=arng.randrange(3000, 40000),
        )
    attacks.append(Attack("fan-out", fanout.ip, hosts7, s, t + 60))
    # Scanning: refused (REJ) and unanswered (S0) attempts across hosts and ports.
    s = window + 10 * HOUR + arng.uniform(0, 600)
    live = {u.ip for u in users}
    n_scan = 400
    for i in range(n_scan):
        target = f"10.10.{arng.choice([1, 2, 3, 4, 10])}.{arng.randrange(1, 255)}"
        port = arng.choice([21, 22, 23, 80, 135, 139, 445, 1433, 3306, 3389, 5900, 8080])
        state = "REJ" if target in live or target.startswith("10.10.10.") else "S0"
        log.add(s + i * 3.0 + arng.uniform(0, 1), scanner_u.ip, target, port, state=state)
    attacks.append(Attack("scanning", scanner_u.ip, (), s, s + n_scan * 3.0))
    # The one large benign upload, in the last day too.
    drive = COMMON_SAAS[0]
    s = window + arng.uniform(10, 15) * HOUR
    for i in range(30):
        log.add(
            s + i * 80,
            uploader.ip,
            arng.choice(drive.ips),
            443,
            duration=75.0,
            out=int(50e6 * arng.uniform(0.9, 1.1)),
            inn=arng.randrange(20000, 60000),
            sni=drive.name,
        )
    n = log.write(directory)
    return attacks, traps, n


# ---------------------------------------------------------------------------------------------
# Scorer


_HOSTLIKE = re.compile(r"[^\s,;]+")


def hosts_named(alert: Any) -> set[str]:
    """Every host an alert names: identity, destination, and evidence lists of hosts."""
    named: set[str] = set()
    for text in (alert.identity, alert.destination):
        if text:
            named.update(_HOSTLIKE.findall(str(text)))
    for key, value in (alert.evidence or {}).items():
        if (
            key.startswith("usual")
            or not isinstance(value, list | tuple)
            or not any(w in key for w in ("host", "identit", "destination", "target"))
        ):
            continue
        for item in value:
            if isinstance(item, str):
                named.add(item)
            elif isinstance(item, dict):
                for k in ("destination", "identity", "host"):
                    if isinstance(item.get(k), str):
                        named.add(item[k])
    return named


def matches(alert: Any, attack: Attack, slack: float = HOUR) -> bool:
    """Whether ``alert`` (an incident: a lead and its related findings) is about ``attack``.

    An incident matches when one of its findings does, unless the incident as a whole names
    dozens of hosts (it then points at nothing)."""
    findings = alert.findings() if hasattr(alert, "findings") else (alert,)
    named_all: set[str] = set()
    for f in findings:
        named_all |= hosts_named(f)
    if len(named_all) >= MANY_HOSTS:
        return False
    return any(_finding_matches(f, attack, slack) for f in findings)


def _finding_matches(alert: Any, attack: Attack, slack: float) -> bool:
    named = hosts_named(alert)
    if alert.identity != attack.identity or len(named) >= MANY_HOSTS:
        return False
    if attack.kind in DESTINATION_KINDS and attack.destinations:
        if alert.destination:
            return alert.destination in attack.destinations
        # No destination of its own: it must overlap, and if its evidence names hosts
        # (a volume spike's top destinations, a fan-out's hosts), one must be the attack's.
        others = named - {alert.identity}
        if others and not others & set(attack.destinations):
            return False
    return alert.start <= attack.end + slack and alert.end >= attack.start - slack


def score(alerts: list[Any], attacks: list[Attack]) -> dict[str, Any]:
    k = 3 * len(attacks)
    top_k, top_10k = alerts[:k], alerts[: 10 * k]
    true_k = [any(matches(a, x) for x in attacks) for a in top_k]
    kinds = sorted({x.kind for x in attacks})
    found = {x: any(matches(a, x) for a in top_10k) for x in attacks}
    recall = {
        kind: (
            sum(found[x] for x in attacks if x.kind == kind),
            sum(x.kind == kind for x in attacks),
        )
        for kind in kinds
    }
    per_detector: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for a in alerts:
        per_detector[a.detector][0] += 1
    for a, t in zip(top_k, true_k, strict=True):
        per_detector[a.detector][1] += 1
        per_detector[a.detector][2] += int(t)
    # Where each attack first appears in the ranking (1-based), or None.
    rank = {x: next((i + 1 for i, a in enumerate(alerts) if matches(a, x)), None) for x in attacks}
    return {
        "k": k,
        "precision": sum(true_k) / max(1, min(k, len(alerts))),
        "hits": sum(true_k),
        "recall": recall,
        "per_detector": dict(per_detector),
        "rank": rank,
    }


# ---------------------------------------------------------------------------------------------
# Runs


def _office(
    directory: Path, seed: int, hosts: int, days: int
) -> tuple[list[Attack], dict[str, str], int]:
    labels = office.generate(directory, seed=seed, hosts=hosts, days=days)
    attacks = [
        Attack(
            "scanning" if lab.kind == "probing" else lab.kind,
            lab.identity,
            (lab.destination,) if lab.destination else (),
            lab.start,
            lab.end,
        )
        for lab in labels
    ]
    return attacks, {}, 0


def run(
    name: str,
    gen: Callable[[Path, int, int, int], tuple[list[Attack], dict[str, str], int]],
    seed: int,
    hosts: int,
    days: int,
    *,
    merge: bool = True,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        attacks, traps, n = gen(d, seed, hosts, days)
        gen_s = time.perf_counter() - t
        with Store(d / "store.duckdb") as store:
            report = store.ingest([d / "conn.log", d / "ssl.log"])
            window = default_window(store, since_seconds=DAY, baseline_seconds=days * DAY - DAY)
            result = detect(store, window, merge=merge)
    s = score(result.alerts, attacks)
    return {
        "generator": name,
        "history": "48 h" if days == 2 else f"{days} d",
        "connections": n or report.events_read,
        "events": report.events_read,
        "seconds": (gen_s, report.seconds, result.seconds),
        "alerts": result.alerts,
        "attacks": attacks,
        "traps": traps,
        **s,
    }


def _frac(pair: tuple[int, int] | None) -> str:
    return f"{pair[0]}/{pair[1]}" if pair else "-"


def _dst(a: Any) -> str:
    return a.destination or "-"


def print_results(results: list[dict[str, Any]], verbose: bool, explain: bool) -> None:
    kinds = sorted({k for r in results for k in r["recall"]})
    short = {
        "beacon": "beacon",
        "exfiltration": "exfil",
        "fan-out": "fanout",
        "lateral-movement": "lateral",
        "new-destination-spread": "spread",
        "scanning": "scan",
    }
    head = f"{'generator':<11}{'history':<8}{'alerts':>7}{'P@K':>14}  " + "".join(
        f"{short.get(k, k):>9}" for k in kinds
    )
    print("\n" + head + "   exfil found   in top K   worst rank")
    print("-" * (len(head) + 38))
    for r in results:
        cells = "".join(f"{_frac(r['recall'].get(k)):>9}" for k in kinds)
        ex = r["recall"].get("exfiltration", (0, 0))
        p = f"{r['precision']:.2f} ({r['hits']}/{r['k']})"
        ranks = list(r["rank"].values())
        in_k = sum(1 for rk in ranks if rk is not None and rk <= r["k"])
        worst = "none" if None in ranks else str(max(ranks))
        print(
            f"{r['generator']:<11}{r['history']:<8}{len(r['alerts']):>7}{p:>14}  {cells}"
            f"   {ex[0]}/{ex[1]:<9}   {in_k}/{len(ranks):<7}   {worst}"
        )
    print("(recall = attacks matched in the top 10K / attacks of that type; K = 3 x attacks;")
    print(" in top K = attacks with an alert in the top K; worst rank = the last attack's first")
    print(" alert. With incidents (the default) one alert per attack is the aim, so P@K is")
    print(" capped near attacks / K = 1/3; --no-merge scores the separate findings)")
    for r in results:
        g, i, dt = r["seconds"]
        print(
            f"\n{r['generator']} {r['history']}: {r['connections']} connections, "
            f"generate {g:.0f} s, ingest {i:.1f} s, detect {dt:.1f} s"
        )
        per = ", ".join(
            f"{det} {n}/{k}/{t}" for det, (n, k, t) in sorted(r["per_detector"].items())
        )
        print(f"  alerts per detector (all/top-K/true in top-K): {per}")
        missed = [
            f"{x.kind} {x.identity}" + (f" (rank {rk})" if rk else " (no alert)")
            for x, rk in r["rank"].items()
            if rk is None or rk > 10 * r["k"]
        ]
        late = [
            f"{x.kind} {x.identity} @{rk}"
            for x, rk in r["rank"].items()
            if rk is not None and r["k"] < rk <= 10 * r["k"]
        ]
        if missed:
            print(f"  missed: {'; '.join(missed)}")
        if late:
            print(f"  found only past K: {'; '.join(late)}")
        if explain:
            for x in r["attacks"]:
                mine = [(i, a) for i, a in enumerate(r["alerts"], 1) if a.identity == x.identity]
                dsts = ", ".join(x.destinations)[:60] or "-"
                print(f"  attack {x.kind} {x.identity} -> {dsts} {x.note}")
                seen: set[tuple[str, bool]] = set()
                for i, a in mine:  # the best-ranked alert of each detector, matching or not
                    ok = matches(a, x)
                    if (a.detector, ok) in seen:
                        continue
                    seen.add((a.detector, ok))
                    print(
                        f"     @{i} sev {a.severity:.2f} {a.detector} {_dst(a)} "
                        f"[{'match' if ok else 'no match'}]: {a.summary[:90]} | {a.why[:120]}"
                    )
        if explain:
            by: dict[tuple[str, str], int] = defaultdict(int)
            for a in r["alerts"]:
                if not any(matches(a, x) for x in r["attacks"]):
                    by[(a.detector, r["traps"].get(a.identity, a.identity))] += 1
            top = sorted(by.items(), key=lambda kv: -kv[1])[:20]
            print(
                "  false alerts by detector and trap:",
                ", ".join(f"{d}:{t} {n}" for (d, t), n in top),
            )
        shown = r["alerts"][: r["k"] if verbose else 10]
        for n, a in enumerate(shown, 1):
            hit = next((x.kind for x in r["attacks"] if matches(a, x)), None)
            mark = f"TRUE {hit}" if hit else f"false ({r['traps'].get(a.identity, '?')})"
            print(f"  {n:>2}. {a.detector:<16}{a.identity:<16}{_dst(a)[:34]:<35}{mark}")
            if verbose:
                print(f"        {a.summary[:110]}")
                print(f"        {a.why[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hosts", type=int, default=200, help="enterprise hosts")
    parser.add_argument("--office-hosts", type=int, default=60)
    parser.add_argument("--only", choices=["office", "enterprise"])
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--no-monitoring", action="store_true", help="enterprise without the monitoring poller"
    )
    parser.add_argument("--explain", action="store_true", help="alerts on each attacker")
    parser.add_argument(
        "--no-merge", action="store_true", help="score findings, not incidents (detect merge=False)"
    )
    args = parser.parse_args()
    started = time.perf_counter()

    def ent(d: Path, seed: int, hosts: int, days: int) -> tuple[list[Attack], dict[str, str], int]:
        return generate_enterprise(
            d, seed=seed, hosts=hosts, days=days, monitoring=not args.no_monitoring
        )

    plan = []
    if args.only in (None, "office"):
        plan += [("office", _office, args.office_hosts, days) for days in (2, 15)]
    if args.only in (None, "enterprise"):
        plan += [("enterprise", ent, args.hosts, days) for days in (2, 15)]
    results = []
    for name, gen, hosts, days in plan:
        results.append(run(name, gen, args.seed, hosts, days, merge=not args.no_merge))
        print(f"done {name} {days} d ({time.perf_counter() - started:.0f} s)", flush=True)
    print_results(results, args.verbose, args.explain)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
