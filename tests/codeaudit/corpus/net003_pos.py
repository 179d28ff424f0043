# ruff: noqa
"""NET003 positives: cleartext protocol clients."""

import ftplib
import http.client
import imaplib
import poplib
import smtplib
import telnetlib


def telnet():
    return telnetlib.Telnet("switch.example.net")  # expect: NET003


def ftp(user, password):
    conn = ftplib.FTP("ftp.example.com")  # expect: NET003
    conn.login(user, password)
    conn.quit()


def smtp_without_starttls(user, password, message):
    server = smtplib.SMTP("mail.example.com", 25)  # expect: NET003
    server.login(user, password)
    server.send_message(message)
    server.quit()


def imap(host, user, password):
    conn = imaplib.IMAP4(host)  # expect: NET003
    conn.login(user, password)
    conn.logout()


def pop(user):
    conn = poplib.POP3("pop.example.com")  # expect: NET003
    conn.user(user)
    conn.quit()


def http_connection():
    conn = http.client.HTTPConnection("api.example.com")  # expect: NET003
    conn.request("GET", "/")
    return conn.getresponse()
