"""Whether a pooled PostgreSQL connection is still alive, mostly without asking the server.

Both pools of a process check a connection before lending it, so that a connection the server
dropped (PostgreSQL restarted, a backend terminated) is replaced instead of failing the
statement of a running step: SQLAlchemy's ``pool_pre_ping`` (the store) sends ``;`` and
psycopg_pool's ``check_connection`` (LangGraph's checkpoints) sends an empty query. That was a
round trip at every checkout: 164 of the 461 statements of a ``bench-scale`` run
(``bench/run_cost.py --detail``), each costing the worker and a PostgreSQL backend CPU on
machines where four runs share two cores.

A server that ends a session says so on its socket: it sends a ``FATAL`` error and closes the
connection (a restart, ``pg_terminate_backend``, an idle timeout), so the socket turns readable.
An idle connection of a pool, on the other hand, is sent nothing at all. So ``quiet`` polls
the socket without waiting (no round trip, no system call beyond ``poll``): an idle connection
with nothing to read is lent as it is, and one with something to read (or not idle, or whose
state libpq already knows is bad) gets the full check as before. What this does not see, the
round trip did not see either in time: a peer that vanished without closing (a cut network)
makes both the ping and the statement wait for TCP's timeout; and a server that dies between
the check and the statement fails the statement with either.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg import pq


def quiet(conn: psycopg.Connection[Any]) -> bool:
    """Whether ``conn`` is idle, in a good state, and its server has sent it nothing: it
    can be lent without a round trip (module docstring). False means: check it the full way."""
    pgconn = conn.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        return False
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    try:
        poller = select.poll()  # not select(): a descriptor above 1023 is fine here
        poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    except (OSError, ValueError, psycopg.OperationalError):  # no socket: closed
        return False


def checked_ping(ping: Any) -> Any:
    """SQLAlchemy's ``do_ping`` for a dialect: ``ping`` (the round trip) only when the
    connection is not ``quiet``."""

    def do_ping(dbapi_connection: Any) -> bool:
        if isinstance(dbapi_connection, psycopg.Connection) and quiet(dbapi_connection):
            return True
        return bool(ping(dbapi_connection))

    return do_ping


def check_pooled(conn: psycopg.Connection[Any]) -> None:
    """psycopg_pool's ``check``: its ``check_connection`` (the round trip, raising when the
    connection is broken) only when ``conn`` is not ``quiet``."""
    if not quiet(conn):
        from psycopg_pool import ConnectionPool

        ConnectionPool.check_connection(conn)
