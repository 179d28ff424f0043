"""A read/write byte buffer for wire codecs, in aioquic's ``pull_x`` / ``push_x`` shape.

Reading past the end, or a length prefix that claims more bytes than remain, raises
:class:`~zerotls.errors.DecodeError` and nothing else: parsers of untrusted bytes build on this
so that garbage from the network can never surface as ``IndexError`` or ``struct.error``.
Length-prefixed blocks are read with :meth:`Buffer.pull_block`, which returns a sub-buffer and
lets the caller insist that it was consumed exactly (:meth:`Buffer.expect_end`).
"""

from __future__ import annotations

from zerotls.errors import DecodeError

__all__ = ["Buffer"]


class Buffer:
    """A cursor over bytes being parsed, or an accumulator of bytes being built."""

    __slots__ = ("_data", "_out", "_pos", "what")

    def __init__(self, data: bytes = b"", *, what: str = "message") -> None:
        self._data = data
        self._pos = 0
        self._out = bytearray()
        self.what = what
        """What is being parsed, for error messages (``"ServerHello"``)."""

    # -- reading ---------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """How many bytes are left to read."""
        return len(self._data) - self._pos

    def eof(self) -> bool:
        """Whether every byte has been read."""
        return self._pos >= len(self._data)

    def pull_bytes(self, length: int) -> bytes:
        """Read exactly ``length`` bytes."""
        end = self._pos + length
        if length < 0 or end > len(self._data):
            raise DecodeError(
                f"truncated {self.what}: needed {length} bytes at offset {self._pos}, "
                f"{self.remaining} left"
            )
        value = self._data[self._pos : end]
        self._pos = end
        return value

    def pull_uint(self, size: int) -> int:
        """Read a big-endian unsigned integer of ``size`` bytes (1 to 4)."""
        return int.from_bytes(self.pull_bytes(size), "big")

    def pull_uint8(self) -> int:
        return self.pull_uint(1)

    def pull_uint16(self) -> int:
        return self.pull_uint(2)

    def pull_uint24(self) -> int:
        return self.pull_uint(3)

    def pull_vector(self, length_size: int) -> bytes:
        """Read a ``length_size``-byte length, then that many bytes (TLS ``opaque x<..>``)."""
        return self.pull_bytes(self.pull_uint(length_size))

    def pull_block(self, length_size: int, what: str | None = None) -> Buffer:
        """Read a length-prefixed block and return it as its own buffer."""
        return Buffer(self.pull_vector(length_size), what=what or self.what)

    def pull_rest(self) -> bytes:
        """Read every remaining byte."""
        return self.pull_bytes(self.remaining)

    def expect_end(self) -> None:
        """Refuse trailing bytes: a block must be consumed exactly (RFC 8446 §4)."""
        if not self.eof():
            raise DecodeError(f"{self.remaining} unexpected trailing bytes in {self.what}")

    # -- writing ---------------------------------------------------------------------------

    def push_bytes(self, value: bytes) -> None:
        self._out += value

    def push_uint(self, value: int, size: int) -> None:
        self._out += value.to_bytes(size, "big")

    def push_uint8(self, value: int) -> None:
        self.push_uint(value, 1)

    def push_uint16(self, value: int) -> None:
        self.push_uint(value, 2)

    def push_uint24(self, value: int) -> None:
        self.push_uint(value, 3)

    def push_vector(self, value: bytes, length_size: int) -> None:
        """Write ``value`` behind a ``length_size``-byte length."""
        if len(value) >= 1 << (8 * length_size):
            raise OverflowError(f"{len(value)} bytes do not fit a {length_size}-byte length")
        self.push_uint(len(value), length_size)
        self._out += value

    def data(self) -> bytes:
        """Everything pushed so far."""
        return bytes(self._out)
