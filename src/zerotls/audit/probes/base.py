"""The probe plugin shape: jobs of one connection each, driven by the runner, and a pure result.

A probe is a class with a ``name``, a one-line ``title``, its own CLI help text, and a
:meth:`Probe.flow` generator. The flow yields *batches* of :class:`Job` (each job is one
connection's :class:`~zerotls.audit.conversation.Conversation`); the runner runs a batch
concurrently within the per-host and global limits, and sends back the list of outcomes (a
job's return value, or :class:`JobFailed`). The flow's return value is the probe's result.
Multi-step probes (enumerate a suite, remove it, offer the rest again) are just loops in the
flow; a single-step probe yields one batch. Everything a flow decides is a function of the
outcomes it was sent, so tests drive flows with canned outcomes, no network needed.

This is sslyze's plugin split (jobs of one connection, a reducer, a registry, a CLI text per
plugin) without its monkey-patched OpenSSL: raw probes speak our own codec.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from zerotls.audit.conversation import Conversation, with_starttls
from zerotls.audit.model import ScanOptions, Target

__all__ = ["REGISTRY", "Job", "JobFailed", "Probe", "ProbeContext", "ProbeFlow", "register"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Job(Generic[T]):
    """One connection: a label for logs, and a factory for its conversation."""

    label: str
    conversation: Callable[[], Conversation[T]]


@dataclass(frozen=True, slots=True)
class JobFailed:
    """A job that produced no result: refused, reset, timed out, or undecodable answer."""

    reason: str

    def __bool__(self) -> bool:  # lets flows write `if outcome:` for "got a result"
        return False


ProbeFlow = Generator[list[Job[Any]], list[Any], Any]


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What a probe knows about the scan: the target and the options."""

    target: Target
    options: ScanOptions

    def job(self, label: str, factory: Callable[[], Conversation[T]]) -> Job[T]:
        """A job whose conversation starts with the target's STARTTLS dialogue, if any."""
        kind = self.target.starttls
        if kind is None:
            return Job(label, factory)
        host = self.target.sni or "localhost"
        return Job(label, lambda: with_starttls(kind, factory(), host=host))


class Probe(abc.ABC):
    """Base of every probe plugin."""

    name: ClassVar[str]
    """Registry key and CLI name (``protocols``, ``certificate`` ...)."""
    title: ClassVar[str]
    """A heading for reports."""
    cli_help: ClassVar[str]
    """One sentence for ``--help``: what the probe checks and how many connections it costs."""
    default: ClassVar[bool] = True
    """Run in a default scan."""

    @abc.abstractmethod
    def flow(self, ctx: ProbeContext) -> ProbeFlow:
        """Yield batches of jobs, receive their outcomes, return the result."""

    @abc.abstractmethod
    def failed(self, reason: str) -> Any:
        """The result to report when the flow could not conclude."""


REGISTRY: dict[str, type[Probe]] = {}
"""Probe name to class, in the order reports show them."""


def register(cls: type[Probe]) -> type[Probe]:
    """Class decorator adding a probe to :data:`REGISTRY`."""
    REGISTRY[cls.name] = cls
    return cls


def single(job: Job[T]) -> Generator[list[Job[Any]], list[Any], T | JobFailed]:
    """Run one job and return its outcome (helper for flows)."""
    outcomes = yield [job]
    result: T | JobFailed = outcomes[0]
    return result
