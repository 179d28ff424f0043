"""Plain connections: :mod:`socket`, asyncio streams and transports, and the cleartext
protocol clients of the standard library (Telnet, FTP, SMTP, IMAP, POP3, HTTP)."""

from __future__ import annotations

from zerotls.codeaudit._analysis.base import (
    Analysis,
    Call,
    Model,
    canonical,
    const_str,
    host_kind,
    is_false,
    mark_wrapped,
    qual_of,
)
from zerotls.codeaudit._values import Const, Inst, Obj, Tup, Value

__all__ = ["MODEL"]

_LOOP_FACTORIES = {
    "asyncio.get_running_loop",
    "asyncio.get_event_loop",
    "asyncio.new_event_loop",
    "uvloop.new_event_loop",
}
_CLEARTEXT_CLIENTS = {
    "telnetlib.Telnet": ("Telnet", False),
    "ftplib.FTP": ("FTP", False),
    "smtplib.SMTP": ("SMTP", True),
    "imaplib.IMAP4": ("IMAP", True),
    "poplib.POP3": ("POP3", True),
    "http.client.HTTPConnection": ("HTTP", False),
}
_UPGRADE_METHODS = {"starttls", "stls", "start_tls"}


# --- calls --------------------------------------------------------------------------------


def _socket(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    family = qual_of(call.arg(0, "family"))
    kind = qual_of(call.arg(1, "type"))
    if family in {"socket.AF_UNIX"} or kind in {"socket.SOCK_DGRAM", "socket.SOCK_RAW"}:
        return None
    return an.track("socket", call.node, "socket", connects=[], wrapped=False)


def _create_connection(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    node = call.node
    obj = an.track("socket", node, "socket", connects=[], wrapped=False)
    obj.state["connects"].append((node, call.arg(0, "address"), an.stmt_line))
    return obj


def _open_connection(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    return _plain_stream(an, call, call.arg(0, "host"), call.arg(1, "port"))


def _cleartext_client(an: Analysis, name: str, call: Call, consumed: set[int]) -> Value:
    cleartext, upgradable = _CLEARTEXT_CLIENTS[name]
    return an.track(
        "cleartext_client",
        call.node,
        name,
        protocol=cleartext,
        upgradable=upgradable,
        host=call.arg(0, "host"),
        upgraded=False,
    )


def _plain_stream(
    an: Analysis, call: Call, host: Value, port: Value, *, own_protocol: bool = False
) -> Value:
    value, _ = call.kwargs.get("ssl", (None, call.node))
    if "ssl" in call.kwargs and not (
        is_false(value) or (isinstance(value, Const) and value.value is None)
    ):
        return None  # a TLS connection (ssl=context or ssl=True)
    obj = an.track(
        "socket", call.node, "asyncio", connects=[], wrapped=False, own_protocol=own_protocol
    )
    obj.state["connects"].append((call.node, Tup((host, port)), an.stmt_line))
    return obj


# --- methods ------------------------------------------------------------------------------


def _upgrade(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    if isinstance(receiver, Obj):
        receiver.state["wrapped"] = True
        receiver.state["upgraded"] = True
    for value in call.args:
        mark_wrapped(value, consumed)
    return None


def _loop_create_connection(an: Analysis, receiver: Value, call: Call, consumed: set[int]) -> Value:
    if isinstance(receiver, Inst) and canonical(receiver.cls) in _LOOP_FACTORIES:
        # The protocol object makes the bytes and may speak TLS itself (zerotls's own
        # engine does, over a plain transport): only a literal remote host is reported.
        return _plain_stream(an, call, call.arg(1, "host"), call.arg(2, "port"), own_protocol=True)
    return None


def _socket_method(an: Analysis, obj: Obj, method: str, call: Call) -> Value:
    if method in {"connect", "connect_ex"}:
        obj.state["connects"].append((call.node, call.arg(0, "address"), an.stmt_line))
    return None


# --- judged at the end --------------------------------------------------------------------


def _finish_socket(an: Analysis, obj: Obj) -> None:
    if obj.state.get("wrapped") or obj.escaped:
        return
    for node, address, stmt_line in obj.state["connects"]:
        if isinstance(address, Const):
            continue  # a path: AF_UNIX
        host: Value = address.items[0] if isinstance(address, Tup) and address.items else None
        kind = host_kind(host)
        if kind == "loopback":
            continue
        if kind == "remote":
            an.hit(
                "NET001",
                node,
                f"cleartext TCP connection to {const_str(host)}, never wrapped in TLS",
                stmt_line=stmt_line,
            )
        elif not obj.state.get("own_protocol"):
            an.hit(
                "NET002",
                node,
                "cleartext TCP connection to a host computed at run time, never wrapped in TLS",
                stmt_line=stmt_line,
            )


def _finish_cleartext_client(an: Analysis, obj: Obj) -> None:
    host: Value = obj.state["host"]
    protocol: str = obj.state["protocol"]
    kind = host_kind(host)
    if kind == "loopback":
        return
    where = f"to {const_str(host)}" if kind == "remote" else "(host set at run time)"
    if protocol == "HTTP":
        if kind == "remote":
            an.hit(
                "NET003",
                obj.node,
                f"http.client.HTTPConnection {where}: cleartext HTTP",
                stmt_line=obj.stmt_line,
            )
        return
    if obj.state["upgradable"]:
        if obj.state.get("upgraded") or obj.escaped:
            return
        an.hit(
            "NET003",
            obj.node,
            f"{protocol} client {where} without starttls(): credentials and data in clear",
            stmt_line=obj.stmt_line,
        )
        return
    an.hit(
        "NET003",
        obj.node,
        f"{protocol} client {where}: credentials and data travel in clear",
        stmt_line=obj.stmt_line,
    )


MODEL = Model(
    calls={
        "socket.socket": _socket,
        "socket.create_connection": _create_connection,
        "asyncio.open_connection": _open_connection,
        **dict.fromkeys(_CLEARTEXT_CLIENTS, _cleartext_client),
    },
    methods={
        **dict.fromkeys(_UPGRADE_METHODS, _upgrade),
        "create_connection": _loop_create_connection,
    },
    object_methods={"socket": _socket_method},
    finishers={"socket": _finish_socket, "cleartext_client": _finish_cleartext_client},
    known=frozenset(
        set(_CLEARTEXT_CLIENTS)
        | {"socket.socket", "socket.create_connection", "socket.AF_UNIX", "socket.SOCK_DGRAM"}
    ),
)
