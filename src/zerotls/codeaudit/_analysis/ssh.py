"""SSH clients: paramiko's host-key policies."""

from __future__ import annotations

from zerotls.codeaudit._analysis.base import Analysis, Call, Model, qual_of
from zerotls.codeaudit._values import Value

__all__ = ["MODEL"]

_PARAMIKO_BAD_POLICIES = {"paramiko.AutoAddPolicy", "paramiko.WarningPolicy"}


def _set_missing_host_key_policy(
    an: Analysis, receiver: Value, call: Call, consumed: set[int]
) -> Value:
    policy = qual_of(call.arg(0, "policy"))
    if policy in _PARAMIKO_BAD_POLICIES:
        an.hit(
            "SSH001",
            call.node,
            f"{policy.rsplit('.', 1)[-1]}: unknown SSH host keys are accepted",
        )
    return None


MODEL = Model(methods={"set_missing_host_key_policy": _set_missing_host_key_policy})
