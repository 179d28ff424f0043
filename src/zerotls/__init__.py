"""zerotls: secure network programming the zero-trust way."""

__version__ = "0.1.0"
