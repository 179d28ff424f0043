"""Evaluate `zerotls monitor` on labelled scenarios: precision at a fixed alert budget and
recall per attack type; then on real Zeek logs shipped in PyPI packages' test data.

The scenario generator writes real Zeek logs (conn.log and ssl.log, TSV), which go through
the same ingest and detection as any user's logs:

- normal identities (workstations with office hours, servers around the clock), each with
  its usual destinations among shared SaaS services, personal ones, and (for some) web
  browsing that adds new destinations every day;
- benign periodic traffic: hourly update checks and NTP from every host, a telemetry
  heartbeat every minute from every server, a nightly backup upload from one server;
- injected in the last day (the detection window): exfiltration (to a new destination and to
  a usual one), beacons with 15 % and 25 % jitter, a new destination spreading to several
  hosts, and a burst of probing (refused connections across hosts and ports).

Run:  .venv/bin/python bench/monitor_eval.py [--seeds 3] [--budget 20] [--hosts 60]
      [--real] (also download zat and parsezeeklogs sdists with pip and read their Zeek logs)
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zerotls.monitor.engine import default_window, detect
from zerotls.monitor.store import Store

DAY = 86400.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday

CONN_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
]
CONN_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
]
SSL_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "version",
    "cipher",
    "curve",
    "server_name",
    "resumed",
    "established",
]
SSL_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "string",
    "string",
    "string",
    "string",
    "bool",
    "bool",
]


@dataclass
class Label:
    kind: str
    identity: str
    destination: str | None
    start: float
    end: float


def _ip_of(name: str) -> str:
    h = hashlib.sha256(name.encode()).digest()
    return f"{52 + h[0] % 100}.{h[1]}.{h[2]}.{1 + h[3] % 250}"


def _header(path: str, fields: list[str], types: list[str]) -> str:
    return (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
        f"#path\t{path}\n#open\t2026-01-01-00-00-00\n#fields\t"
        + "\t".join(fields)
        + "\n#types\t"
        + "\t".join(types)
        + "\n"
    )


class Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.conn: list[tuple[float, str]] = []
        self.ssl: list[tuple[float, str]] = []
        self.n = 0

    def add(
        self,
        ts: float,
        src: str,
        dst: str,
        *,
        port: int = 443,
        proto: str = "tcp",
        out: int,
        inn: int,
        duration: float,
        state: str = "SF",
        tls: str | None = "TLSv13",
        cipher: str = "TLS_AES_128_GCM_SHA256",
    ) -> None:
        self.n += 1
        uid = f"C{self.n:017x}"
        dst_ip = dst if dst[0].isdigit() else _ip_of(dst)
        sport = 1024 + self.rng.randrange(60000)
        service = "ssl" if tls and port == 443 else ("ntp" if port == 123 else "-")
        self.conn.append(
            (
                ts,
                f"{ts:.6f}\t{uid}\t{src}\t{sport}\t{dst_ip}\t{port}\t{proto}\t{service}\t"
                f"{duration:.6f}\t{out}\t{inn}\t{state}\tT\tF\t0\tShADadFf\t10\t{out + 400}\t10\t"
                f"{inn + 400}\t(empty)\n",
            )
        )
        if tls and port == 443 and state == "SF":
            self.ssl.append(
                (
                    ts,
                    f"{ts:.6f}\t{uid}\t{src}\t{sport}\t{dst_ip}\t{port}\t{tls}\t{cipher}\tx25519\t"
                    f"{dst if not dst[0].isdigit() else '-'}\tF\tT\n",
                )
            )

    def write(self, directory: Path) -> None:
        self.conn.sort()
        self.ssl.sort()
        (directory / "conn.log").write_text(
            _header("conn", CONN_FIELDS, CONN_TYPES) + "".join(line for _, line in self.conn)
        )
        (directory / "ssl.log").write_text(
            _header("ssl", SSL_FIELDS, SSL_TYPES) + "".join(line for _, line in self.ssl)
        )


def generate(directory: Path, *, seed: int, hosts: int = 60, days: int = 15) -> list[Label]:
    """Write a labelled scenario; the last day holds the attacks."""
    rng = random.Random(seed)
    w = Writer(rng)
    saas = [f"app{i}.saas.example" for i in range(25)]
    saas_weights = [1.0 / (i + 1) for i in range(len(saas))]
    servers = [f"10.1.1.{10 + i}" for i in range(max(4, hosts // 6))]
    stations = [f"10.1.0.{10 + i}" for i in range(hosts - len(servers))]
    window_start = T0 + (days - 1) * DAY
    end = T0 + days * DAY
    profiles: dict[str, dict[str, Any]] = {}
    for h in stations + servers:
        profiles[h] = {
            "usual": [
                *rng.choices(saas, weights=saas_weights, k=6),
                f"intra{rng.randrange(8)}.corp.example",
            ],
            "browse": rng.choice([0.0, 0.0, 0.2, 0.5, 1.0]) if h in stations else 0.0,
            "rate": rng.uniform(20, 60) if h in stations else rng.uniform(10, 20),
            "scale": rng.uniform(0.5, 2.0),
        }
    # Normal traffic: hourly Poisson counts with office hours for workstations.
    for h, p in profiles.items():
        for hour in range(days * 24):
            t = T0 + hour * 3600.0
            hod = hour % 24
            weekday = int(((t - T0) // DAY + 3) % 7) < 5  # T0 is a Thursday
            if h in stations:
                level = (1.0 if 8 <= hod < 18 else 0.05) * (1.0 if weekday else 0.1)
            else:
                level = 0.6 + 0.4 * math.sin(hod / 24 * 2 * math.pi)
            n = _poisson(rng, p["rate"] * level)
            for _ in range(n):
                ts = t + rng.uniform(0, 3600)
                if p["browse"] and rng.random() < 0.15 * p["browse"]:
                    dst = f"site{rng.randrange(100000)}.web.example"
                else:
                    dst = rng.choice(p["usual"])
                out = int(rng.lognormvariate(7.5, 1.0) * p["scale"])
                inn = int(rng.lognormvariate(10, 1.2) * p["scale"])
                w.add(ts, h, dst, out=out, inn=inn, duration=rng.expovariate(1 / 5.0))
    # Benign periodic traffic.
    for h in stations + servers:
        phase = rng.uniform(0, 3600)
        t = T0 + phase
        while t < end:
            w.add(
                t, h, "update.vendor.example", out=700 + rng.randrange(40), inn=1800, duration=0.3
            )
            t += 3600 + rng.uniform(-30, 30)
        t = T0 + rng.uniform(0, 1024)
        while t < end:
            w.add(
                t, h, "pool.ntp.org", port=123, proto="udp", out=48, inn=48, duration=0.01, tls=None
            )
            t += 1024
    for h in servers:
        t = T0 + rng.uniform(0, 60)
        while t < end:
            w.add(
                t, h, "telemetry.corp.example", out=900 + rng.randrange(30), inn=200, duration=0.05
            )
            t += 60 + rng.uniform(-2, 2)
    backup = servers[0]
    for d in range(days):
        w.add(
            T0 + d * DAY + 2 * 3600 + rng.uniform(0, 60),
            backup,
            "backup.corp.example",
            out=3_000_000_000,
            inn=2_000_000,
            duration=2400,
        )
    labels: list[Label] = []
    attackers = rng.sample(stations, 9)
    # Exfiltration to a new destination: ~3 GB over two hours.
    a = attackers[0]
    t = window_start + 13 * 3600 + rng.uniform(0, 1800)
    for i in range(40):
        w.add(t + i * 180, a, "files.exfil.example", out=75_000_000, inn=20_000, duration=120)
    labels.append(Label("exfiltration", a, "files.exfil.example", t, t + 40 * 180))
    # Exfiltration to a usual destination.
    a = attackers[1]
    usual = profiles[a]["usual"][0]
    t = window_start + 15 * 3600 + rng.uniform(0, 1800)
    for i in range(20):
        w.add(t + i * 300, a, usual, out=60_000_000, inn=30_000, duration=200)
    labels.append(Label("exfiltration", a, usual, t, t + 20 * 300))
    # Beacons with jitter.
    for a, period, jitter, dst in (
        (attackers[2], 300.0, 0.15, "cdn-edge.c2.example"),
        (attackers[3], 600.0, 0.25, "api.c2other.example"),
    ):
        t = window_start + rng.uniform(0, 3600)
        first = t
        while t < end - 600:
            w.add(t, a, dst, out=int(rng.gauss(420, 15)), inn=int(rng.gauss(900, 60)), duration=0.4)
            t += period * (1 + rng.uniform(-jitter, jitter))
        labels.append(Label("beacon", a, dst, first, t))
    # A new destination spreading to several hosts.
    t = window_start + 10 * 3600
    for a in attackers[4:8]:
        s = t + rng.uniform(0, 7200)
        for i in range(3):
            w.add(s + i * 40, a, "dl.spread.example", out=600, inn=250_000, duration=2)
        labels.append(Label("new-destination-spread", a, "dl.spread.example", s, s + 120))
    # Probing: refused connections across internal hosts and ports.
    a = attackers[8]
    t = window_start + 11 * 3600 + rng.uniform(0, 1800)
    for i in range(90):
        target = f"10.1.{rng.choice([0, 1])}.{rng.randrange(1, 254)}"
        w.add(
            t + i * 8,
            a,
            target,
            port=rng.choice([22, 23, 445, 3389, 5432, 6379, 8080]),
            out=0,
            inn=0,
            duration=0.0,
            state=rng.choice(["REJ", "S0"]),
            tls=None,
        )
    labels.append(Label("probing", a, None, t, t + 90 * 8))
    w.write(directory)
    return labels


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _matches(alert: Any, label: Label) -> bool:
    if alert.identity != label.identity:
        return False
    if label.destination and alert.destination and alert.destination != label.destination:
        return False
    return alert.start <= label.end + 3600 and alert.end >= label.start - 3600


def evaluate(seed: int, budget: int, hosts: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        labels = generate(d, seed=seed, hosts=hosts)
        gen_s = time.perf_counter() - t
        with Store(d / "store.duckdb") as store:
            report = store.ingest([d / "conn.log", d / "ssl.log"])
            window = default_window(store)
            result = detect(store, window)
    top = result.alerts[:budget]
    hits = [a for a in top if any(_matches(a, lab) for lab in labels)]
    kinds = sorted({lab.kind for lab in labels})
    recall = {
        k: sum(1 for lab in labels if lab.kind == k and any(_matches(a, lab) for a in top))
        / sum(1 for lab in labels if lab.kind == k)
        for k in kinds
    }
    false_pos: dict[str, int] = {}
    for a in top:
        if a not in hits:
            false_pos[a.detector] = false_pos.get(a.detector, 0) + 1
    return {
        "seed": seed,
        "events": report.events_read,
        "generate_s": gen_s,
        "ingest_s": report.seconds,
        "detect_s": result.seconds,
        "alerts": len(result.alerts),
        "precision": len(hits) / max(len(top), 1),
        "recall": recall,
        "false_positives_by_detector": false_pos,
        "top": [(a.detector, a.identity, a.destination, round(a.severity, 3)) for a in top],
    }


def real_data(cache: Path) -> None:
    """Zeek logs from PyPI sdists: zat's sample capture and parsezeeklogs' fixtures, among
    them a labelled lateral-movement capture (PCAP-ATTACK LM_rdp_sharprdp)."""
    cache.mkdir(parents=True, exist_ok=True)
    for pkg in ("zat==0.4.9", "parsezeeklogs==3.0.1"):
        name = pkg.split("==")[0]
        if not list(cache.glob(f"{name}-*.tar.gz")):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    "-d",
                    str(cache),
                    pkg,
                ],
                check=True,
                capture_output=True,
            )
    roots = []
    for sdist in cache.glob("*.tar.gz"):
        with tarfile.open(sdist) as tar:
            tar.extractall(cache, filter="data")
        roots.append(cache / sdist.name.removesuffix(".tar.gz"))
    for label, files in (
        ("zat sample (TSV conn+ssl)", ["zat-0.4.9/data/conn.log", "zat-0.4.9/data/ssl.log"]),
        ("parsezeeklogs conn_2018", ["parsezeeklogs-3.0.1/tests/data/conn_2018.log"]),
        (
            "PCAP-ATTACK rdp_sharprdp (lateral movement)",
            [
                "parsezeeklogs-3.0.1/tests/data/rdp_sharprdp/tsv/conn.log",
                "parsezeeklogs-3.0.1/tests/data/rdp_sharprdp/tsv/ssl.log",
            ],
        ),
    ):
        with Store() as store:
            rep = store.ingest([cache / f for f in files])
            span = store.time_range()
            assert span is not None
            # These captures last minutes: judge all of it against nothing but itself.
            window = default_window(store, since=span[0], baseline_seconds=1.0)
            res = detect(store, window)
        print(
            f"\n{label}: {rep.events_read} lines read, {rep.rejected} rejected, "
            f"{len(res.alerts)} alerts in {res.seconds:.2f} s"
        )
        for a in res.alerts[:6]:
            print(f"  [{a.level}] {a.detector}: {a.summary}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=60)
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    results = []
    for seed in range(args.seeds):
        r = evaluate(seed, args.budget, args.hosts)
        results.append(r)
        print(
            f"seed {seed}: {r['events']} events, ingest {r['ingest_s']:.2f} s, detect "
            f"{r['detect_s']:.2f} s, {r['alerts']} alerts, precision@{args.budget} "
            f"{r['precision']:.2f}, recall {r['recall']}, false positives {r['false_positives_by_detector']}"
        )
        if args.verbose:
            for row in r["top"]:
                print("   ", row)
    kinds = sorted(results[0]["recall"])
    print(f"\nmedian over {len(results)} seeds, budget {args.budget} alerts per day:")
    print(f"  precision@{args.budget}: {statistics.median(r['precision'] for r in results):.2f}")
    for k in kinds:
        print(f"  recall {k}: {statistics.median(r['recall'][k] for r in results):.2f}")
    if args.real:
        real_data(Path(tempfile.gettempdir()) / "zerotls-monitor-real")


if __name__ == "__main__":
    main()
