"""The one retry policy of the store (`llmctl.store._retry`), and both connectors using it."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from llmctl.errors import EXIT_INFRA, StoreBusy
from llmctl.store._retry import RetryPolicy

sys.path.insert(0, str(Path(__file__).parent))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


class Transient(Exception):
    pass


def _policy(clock: Clock, timeout: float = 1.0, notify: list[str] | None = None) -> RetryPolicy:
    return RetryPolicy(
        timeout,
        first_delay=0.01,
        max_delay=0.2,
        notice_after=0.5,
        notify=notify.append if notify is not None else None,
        clock=clock,
        sleep=clock.sleep,
    )


def _busy(exc: BaseException) -> StoreBusy:
    return StoreBusy(f"store stayed busy: {exc}")


def test_retries_a_transient_error_until_it_succeeds() -> None:
    clock = Clock()
    calls: list[float] = []

    def attempt(deadline: float) -> str:
        calls.append(deadline)
        if len(calls) < 4:
            raise Transient("transaction conflict")
        return "done"

    got = _policy(clock).call(
        attempt, transient=lambda e: isinstance(e, Transient), gave_up=_busy, waiting=lambda e: "waiting"
    )
    assert got == "done" and len(calls) == 4
    assert calls == [101.0] * 4  # one deadline for the whole operation
    assert len(clock.sleeps) == 3 and all(0 < s <= 0.2 * 1.5 for s in clock.sleeps)
    assert clock.sleeps[2] > clock.sleeps[0] * 0.9  # backoff grows (jitter aside)


def test_any_other_error_is_raised_at_once() -> None:
    clock = Clock()
    calls = []

    def attempt(deadline: float) -> None:
        calls.append(1)
        raise ValueError("a real bug")

    with pytest.raises(ValueError, match="a real bug"):
        _policy(clock).call(attempt, transient=lambda e: isinstance(e, Transient), gave_up=_busy, waiting=str)
    assert calls == [1] and clock.sleeps == []


def test_gives_up_after_its_budget_with_an_exit_3_error_and_one_notice() -> None:
    clock = Clock()
    notices: list[str] = []

    def attempt(deadline: float) -> None:
        raise Transient("database is locked")

    with pytest.raises(StoreBusy) as info:
        _policy(clock, timeout=2.0, notify=notices).call(
            attempt, transient=lambda e: True, gave_up=_busy, waiting=lambda e: f"waiting ({e})"
        )
    assert info.value.exit_code == EXIT_INFRA == 3
    assert str(info.value) == "store stayed busy: database is locked"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert 102.0 <= clock.now <= 102.0 + 1e-9  # the last sleep ends at the deadline, not past it
    assert notices == ["waiting (database is locked)"]


def test_a_locked_store_file_gives_up_with_exit_3(store_path: Path) -> None:
    from test_processes import hold

    from llmctl.store import Store

    Store(store_path).cache_put_many([{"key": "k"}])
    proc = hold(store_path, 3)
    try:
        with pytest.raises(StoreBusy, match=r"locked by another process \(PID \d+\); gave up after waiting 0.3s") as e:
            Store(store_path, lock_timeout=0.3).list_runs()
        assert e.value.exit_code == 3
    finally:
        proc.kill()
        proc.wait()


def _lake_connector(tmp_path: Path, timeout: float):  # type: ignore[no-untyped-def]
    pytest.importorskip("duckdb_extension_ducklake", reason="the `shared` extra is not installed")
    from llmctl.store._lake import LakeConnector
    from llmctl.store_location import parse_store_url

    spec = parse_store_url(f"ducklake:sqlite:{tmp_path}/cat.sqlite;data={tmp_path}/data/", root=tmp_path)
    assert not isinstance(spec, Path)
    return LakeConnector(spec, lock_timeout=timeout)


def test_the_lake_retries_commit_conflicts_with_the_same_policy(tmp_path: Path) -> None:
    lake = _lake_connector(tmp_path, 30)
    calls = []

    def fn(con: duckdb.DuckDBPyConnection) -> int:
        calls.append(1)
        if len(calls) < 3:
            raise duckdb.TransactionException("TransactionContext Error: Failed to commit: Transaction conflict")
        return int(con.execute("SELECT count(*) FROM runs").fetchall()[0][0])

    assert lake.run(fn) == 0 and len(calls) == 3


def test_the_lake_gives_up_after_its_budget_with_exit_3(tmp_path: Path) -> None:
    lake = _lake_connector(tmp_path, 0.3)

    def fn(con: duckdb.DuckDBPyConnection) -> None:
        raise duckdb.TransactionException("TransactionContext Error: Failed to commit: Transaction conflict")

    with pytest.raises(StoreBusy, match=r"stayed busy: .*Transaction conflict; gave up after 0\.3s") as e:
        lake.run(fn)
    assert e.value.exit_code == 3
    with pytest.raises(Exception, match=r"no_such_table") as other:  # not retried: at once
        lake.run(lambda con: con.execute("SELECT * FROM no_such_table").fetchall())
    assert not isinstance(other.value, StoreBusy)
