"""Sans-IO codecs and wire constants for untrusted bytes."""
