"""The runner: drives probe flows over real connections, within per-host and global limits.

Each target gets one reachability check, then every selected probe runs as its own task; each
job a flow yields opens one connection, holding a slot of the target's semaphore and of the
global one while it lasts, and drives its conversation (write, read with a timeout, send the
bytes in). A job's failure (refused, reset, timeout, undecodable bytes) becomes a
:class:`~zerotls.audit.probes.base.JobFailed` for the flow to judge; a flow that cannot
conclude yields the probe's ``failed`` result. Grading, findings and profiles run after, as
pure functions of the results.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from zerotls.audit.conversation import Conversation, Recv
from zerotls.audit.findings import findings_for
from zerotls.audit.grading import grade
from zerotls.audit.model import ScanOptions, Target, TargetReport
from zerotls.audit.probes import ORDER, REGISTRY
from zerotls.audit.probes.base import Job, JobFailed, Probe, ProbeContext
from zerotls.audit.profiles import check_profiles
from zerotls.audit.simulate import simulate_all
from zerotls.errors import ConfigError, DecodeError, ProbeError, ZeroTLSError

__all__ = ["DEFAULT_PROBES", "ProgressCallback", "scan", "scan_async", "selected_probes"]

DEFAULT_PROBES = tuple(name for name in ORDER if REGISTRY[name].default)

ProgressCallback = Callable[[int, int, TargetReport], None]
"""Called after each target with (done, total, report)."""

_READ_SIZE = 65536


def selected_probes(names: Sequence[str] | None) -> tuple[str, ...]:
    """Validate probe names (None: the defaults), in report order.

    Raises:
        ConfigError: an unknown probe name.
    """
    if names is None:
        return DEFAULT_PROBES
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ConfigError(f"unknown probe {', '.join(unknown)}: choose from {', '.join(ORDER)}")
    return tuple(n for n in ORDER if n in names)


class _Limits:
    def __init__(self, options: ScanOptions) -> None:
        self.overall = asyncio.Semaphore(options.concurrency)
        self.per_host = options.per_host
        self.timeout = options.timeout


async def _read(reader: asyncio.StreamReader, wait: float) -> bytes | None:
    if wait <= 0:
        return None
    try:
        return await asyncio.wait_for(reader.read(_READ_SIZE), wait)
    except TimeoutError:
        return None
    except ConnectionError:
        return b""  # a reset is the server's way of saying no


async def run_conversation(
    address: str, port: int, conversation: Conversation[Any], timeout: float
) -> Any:
    """Open one connection and drive ``conversation`` on it; a failure is a JobFailed."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except TimeoutError:
        return JobFailed(f"timeout connecting to {address}:{port}")
    except OSError as exc:
        return JobFailed(f"cannot connect to {address}:{port}: {exc.strerror or exc}")
    try:
        item = next(conversation)
        while True:
            if isinstance(item, Recv):
                payload, wait = item.send, timeout if item.timeout is None else item.timeout
            else:
                payload, wait = item, timeout
            if payload:
                writer.write(payload)
            data = await _read(reader, wait)
            item = conversation.send(data)
    except StopIteration as stop:
        return stop.value
    except DecodeError as exc:
        return JobFailed(f"undecodable answer: {exc}")
    except ProbeError as exc:
        return JobFailed(str(exc))
    except ConnectionError as exc:
        return JobFailed(f"connection failed: {exc}")
    finally:
        conversation.close()
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close and wait until the socket is really closed: a socket left for the garbage
    collector keeps a one-connection-at-a-time server (``openssl s_server``) waiting."""
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _drive(
    probe: Probe, ctx: ProbeContext, run_job: Callable[[Job[Any]], Any]
) -> tuple[Any, int]:
    flow = probe.flow(ctx)
    jobs_run = 0
    try:
        batch = next(flow)
        while True:
            jobs_run += len(batch)
            outcomes = await asyncio.gather(*(run_job(job) for job in batch))
            batch = flow.send(list(outcomes))
    except StopIteration as stop:
        return stop.value, jobs_run
    except ZeroTLSError as exc:
        if isinstance(exc, ConfigError):
            raise
        return probe.failed(str(exc)), jobs_run


async def _resolve(target: Target) -> str:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProbeError(f"cannot resolve {target.host}: {exc.strerror}") from None
    if not infos:
        raise ProbeError(f"{target.host} has no address")
    return str(infos[0][4][0])


async def scan_target(
    target: Target, options: ScanOptions, probes: Sequence[str], limits: _Limits
) -> TargetReport:
    """Scan one target with ``probes``; never raises for network trouble."""
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()

    def failed(reason: str, address: str | None = None) -> TargetReport:
        return TargetReport(
            target=target,
            address=address,
            started=started.isoformat(),
            duration_s=round(time.perf_counter() - clock, 3),
            results={},
            error=reason,
        )

    try:
        address = await _resolve(target)
    except ProbeError as exc:
        return failed(str(exc))
    host_slots = asyncio.Semaphore(limits.per_host)

    async def run_job(job: Job[Any]) -> Any:
        async with limits.overall, host_slots:
            return await run_conversation(address, target.port, job.conversation(), limits.timeout)

    # One bare connection first: an unreachable target gets one clear error, not forty.
    async with limits.overall, host_slots:
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address, target.port), limits.timeout
            )
        except TimeoutError:
            return failed(f"timeout connecting to {target.label}", address)
        except OSError as exc:
            return failed(f"cannot connect to {target.label}: {exc.strerror or exc}", address)
        await _close(writer)

    ctx = ProbeContext(target, options)
    instances = [REGISTRY[name]() for name in probes]
    done = await asyncio.gather(*(_drive(p, ctx, run_job) for p in instances))
    results = {name: result for name, (result, _) in zip(probes, done, strict=True)}
    connections = 1 + sum(count for _, count in done)
    silent = _no_tls_here(results)
    if silent is not None:  # a grade is for endpoints that spoke TLS, not an "F" for silence
        return failed(f"no TLS here: {target.label} {silent}", address)
    simulations = None if target.dtls else simulate_all(results)
    if simulations is not None:  # computed from protocols and groups: no connection
        results["simulations"] = simulations
    findings = findings_for(target, results)
    return TargetReport(
        target=target,
        address=address,
        started=started.isoformat(),
        duration_s=round(time.perf_counter() - clock, 3),
        results=results,
        findings=findings,
        grade=grade(results, findings),
        profiles=check_profiles(results),
        connections=connections,
    )


def _no_tls_here(results: dict[str, Any]) -> str | None:
    """Why the endpoint is not a TLS server, when the version probe ran and no version, not
    even SSLv2, ever completed a ServerHello (silence, garbage, an endless stream)."""
    from zerotls.audit.model import ProtocolsResult

    protocols = results.get("protocols")
    if not isinstance(protocols, ProtocolsResult) or protocols.supported:
        return None
    reasons = sorted(
        {v.error for v in protocols.versions if v.error}
        | ({protocols.error} if protocols.error else set())
    )
    why = "; ".join(reasons[:3]) or "it refused every version"
    return (
        "accepted the connection but never completed a ServerHello in any SSL/TLS version "
        f"({why}); is this the right port, or does it need --starttls?"
    )


async def scan_async(
    targets: Sequence[Target | str],
    options: ScanOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> list[TargetReport]:
    """Scan ``targets`` concurrently (see :func:`scan`)."""
    options = options or ScanOptions()
    parsed = [t if isinstance(t, Target) else Target.parse(t) for t in targets]
    probes = selected_probes(options.probes)
    if "certificate" in probes:  # fail early, once, on a bad --ca
        from zerotls.audit.certs import load_trust_store

        load_trust_store(options.ca_file)
    limits = _Limits(options)
    reports: list[TargetReport | None] = [None] * len(parsed)
    finished = 0

    async def one(index: int, target: Target) -> None:
        nonlocal finished
        if target.dtls:
            from zerotls.audit.dtls import audit_dtls

            async with limits.overall:
                report = await asyncio.to_thread(
                    audit_dtls, target, timeout=min(options.timeout, 2.0), ca_file=options.ca_file
                )
        else:
            report = await scan_target(target, options, probes, limits)
        reports[index] = report
        finished += 1
        if progress is not None:
            with contextlib.suppress(Exception):
                progress(finished, len(parsed), report)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(parsed)))
    return [r for r in reports if r is not None]


def scan(
    targets: Sequence[Target | str],
    options: ScanOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> list[TargetReport]:
    """Audit TLS endpoints and return one typed report per target, in the order given.

    Args:
        targets: :class:`Target` objects or strings such as ``"example.com"``,
            ``"10.0.0.5:8443"``, ``"smtp://mail.example.com"``.
        options: probes, timeouts, limits, trust store, pins (default: :class:`ScanOptions`).
        progress: called after each target completes.

    Returns:
        Reports with every probe's result, the findings, the grade and profile compliance.
        An unreachable target gets a report with ``error`` set; nothing is raised for it.

    Raises:
        ConfigError: an unknown probe, an unreadable ``ca_file``, a malformed target.
    """
    return asyncio.run(scan_async(targets, options, progress=progress))
