# ruff: noqa
"""SSH001 positives: paramiko accepting unknown host keys."""

import paramiko
from paramiko import AutoAddPolicy


def auto_add(host):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # expect: SSH001
    client.connect(host)


def warning_policy(client):
    client.set_missing_host_key_policy(paramiko.WarningPolicy)  # expect: SSH001


def imported_name(client):
    client.set_missing_host_key_policy(AutoAddPolicy())  # expect: SSH001


def client_module(client):
    client.set_missing_host_key_policy(paramiko.client.AutoAddPolicy())  # expect: SSH001
