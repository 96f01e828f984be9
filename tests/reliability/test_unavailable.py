"""Which database errors mean "the database is away, try again" (503 + Retry-After), and which
are bugs (500). PostgreSQL restarting shows up in asyncpg as plain DBAPIErrors whose SQLSTATE
says so; the reliability harness found these answered 500 before."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from forum.db import is_unavailable


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("sqlstate", "message"), [
    ("57P01", "terminating connection due to administrator command"),
    ("57P03", "the database system is starting up"),
    ("08006", "connection failure"),
    ("53300", "sorry, too many clients already"),
])
def test_postgresql_going_away_is_unavailable(sqlstate: str, message: str) -> None:
    error = DBAPIError("SELECT 1", {}, DriverError(message, sqlstate))
    assert is_unavailable(error)


def test_the_driver_error_wrapped_by_the_adapter_counts_too() -> None:
    adapted = Exception("adapted")
    adapted.__cause__ = DriverError("the database system is shutting down", "57P03")
    assert is_unavailable(DBAPIError("SELECT 1", {}, adapted))


def test_a_constraint_violation_is_not_an_outage() -> None:
    error = IntegrityError("INSERT …", {}, DriverError("duplicate key connection", "23505"))
    assert not is_unavailable(error)


def test_waiting_too_long_for_a_pooled_connection_is_unavailable() -> None:
    assert is_unavailable(PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached"))
