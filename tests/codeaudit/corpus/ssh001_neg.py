# ruff: noqa
"""SSH001 negatives: known hosts and the default RejectPolicy."""

import paramiko


def known_hosts(host):
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host)


def pinned(host, known_hosts_file):
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts_file)
    client.connect(host)
