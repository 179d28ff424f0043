# ruff: noqa
"""NET003 negatives: the TLS variants, STARTTLS, loopback, or handed over for upgrade."""

import http.client
import imaplib
import smtplib
import ssl


def smtp_starttls(user, password):
    server = smtplib.SMTP("mail.example.com", 587)
    server.starttls(context=ssl.create_default_context())
    server.login(user, password)
    server.quit()


def smtp_ssl():
    ctx = ssl.create_default_context()
    return smtplib.SMTP_SSL("mail.example.com", 465, context=ctx)


def local_relay(message):
    server = smtplib.SMTP("localhost")
    server.send_message(message)
    server.quit()


def https_connection():
    conn = http.client.HTTPSConnection("api.example.com")
    conn.request("GET", "/")
    return conn.getresponse()


def http_loopback():
    conn = http.client.HTTPConnection("127.0.0.1", 8080)
    conn.request("GET", "/healthz")
    return conn.getresponse()


def imap_handed_over(host):
    conn = imaplib.IMAP4(host)
    return conn
