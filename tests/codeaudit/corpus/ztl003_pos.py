# ruff: noqa
"""ZTL003 positives: suppressions that silence nothing."""


def nothing_here():
    # expect-next: ZTL003
    return 1 + 1  # zerotls: ignore[TLS004] left over from a refactoring
