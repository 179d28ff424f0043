"""Real TLS peers for tests: openssl s_server / s_client processes on loopback."""
