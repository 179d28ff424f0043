# ruff: noqa
"""FTP over TLS: bandit reports the ftplib import (B402) and call (B321); it is encrypted."""

import ftplib


def ftps(user, password):
    conn = ftplib.FTP_TLS("ftp.example.com")
    conn.login(user, password)
    conn.prot_p()
    return conn.nlst()
