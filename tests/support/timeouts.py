"""Adapter timeouts for tests against the local fake providers.

A normal send gets all the time it needs, however busy the machine. A test about a slow provider pairs a
short adapter timeout with an answer that comes several times later, so neither outcome hangs on a margin
of milliseconds.
"""
SEND_TIMEOUT = 10.0
SHORT_TIMEOUT = 1.0
TOO_LATE = 5.0
