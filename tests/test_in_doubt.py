"""Transactions left in doubt: a process killed right after PREPARE, then what the reader is told.

Runs on the PostgreSQL that can prepare (``MORTAR_RDB_TEST_POSTGRESQL_TWOPHASE``;
under ``CI=true`` the tests fail without it) and, when the run includes
MariaDB (``MORTAR_RDB_TEST_MARIADB``), there too: its XA transactions
outlive their client. The prepared transaction a test leaves is rolled back
in its tear-down; on MariaDB, XA transactions are server-wide, so the tests
touch only the one they made.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from transaction.interfaces import TransientError

from mortar_rdb import drop_tables
from mortar_rdb.sequence import native, pooled
from mortar_rdb.sequence._cli.main import main
from mortar_rdb.sequence._dialects import PreparedTransaction, in_doubt_sql_for
from mortar_rdb.sequence.errors import SequenceChangeBlocked, SequenceConflict, SequenceInDoubt
from mortar_rdb.sequence.generic import SequenceImplementation as Generic
from mortar_rdb.sequence.schema import create_table

from .databases import configured, needed, short_lock_wait

SERVERS = {'postgresql': 'MORTAR_RDB_TEST_POSTGRESQL_TWOPHASE', 'mariadb': 'MORTAR_RDB_TEST_MARIADB'}

#: Prepares a transaction that took a value of 'invoices', then dies at once, as a crash would leave it.
DIES_AFTER_PREPARE = '''
import os, signal, sys
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session
from mortar_rdb.sequence.generic import SequenceImplementation
engine = create_engine(sys.argv[1])
event.listen(engine, 'prepare_twophase', lambda connection, xid: print(xid, flush=True))
session = Session(engine, twophase=True)
SequenceImplementation.for_existing('invoices').next(session)
session.prepare()
os.kill(os.getpid(), signal.SIGKILL)
'''


def listing(engine: Engine) -> list[PreparedTransaction]:
    with engine.connect() as connection:
        return in_doubt_sql_for(engine.dialect).listing(connection)


@pytest.fixture(params=['postgresql', *(['mariadb'] if 'mariadb' in configured() else [])])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    variable = SERVERS[request.param]
    found = os.environ.get(variable)
    if not found:
        needed(f'{variable} is not set: no server to leave a transaction in doubt on', 'CI must set it.')
    engine = create_engine(found)
    drop_tables(engine)
    create_table(engine)
    with Session(engine) as session, session.begin():
        Generic('invoices', session)
    engine.dispose()
    return found


@pytest.fixture
def in_doubt(url: str) -> Iterator[PreparedTransaction]:
    """The transaction in doubt a killed process left, holding the row of 'invoices'; rolled back afterwards."""
    run = subprocess.run([sys.executable, '-c', DIES_AFTER_PREPARE, url], capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL, run.stderr
    xid = run.stdout.strip()
    engine = create_engine(url)
    try:
        (left,) = [each for each in listing(engine) if each.id == xid]
        yield left
        if any(each.id == xid for each in listing(engine)):
            with engine.connect() as connection:
                in_doubt_sql_for(engine.dialect).end(connection, left, commit=False)
        drop_tables(engine)
    finally:
        engine.dispose()


def waiting_briefly(url: str) -> Engine:
    """An engine whose lock waits end soon, as an application's should (see docs/clusters.rst)."""
    return create_engine(url, connect_args=short_lock_wait(url))


def expected(url: str) -> type[Exception]:
    """What taking a held value raises: PostgreSQL tells which rows a prepared
    transaction holds; MariaDB does not, so its conflict stays retryable and names them."""
    return SequenceInDoubt if url.startswith('postgresql') else SequenceConflict


def taking(url: str) -> Exception:
    engine = waiting_briefly(url)
    try:
        with Session(engine) as session, pytest.raises(expected(url)) as raised:
            Generic.for_existing('invoices').next(session)
    finally:
        engine.dispose()
    return raised.value


def test_next_on_a_row_held_by_a_transaction_in_doubt_names_it(url: str, in_doubt: PreparedTransaction) -> None:
    assert repr(in_doubt.id) in str(taking(url))


def test_the_error_says_how_to_end_the_transaction_in_doubt(url: str, in_doubt: PreparedTransaction) -> None:
    said = str(taking(url))
    assert in_doubt.rollback in said and in_doubt.commit in said


def test_the_error_names_database_age_and_sequence_where_the_database_tells(
    url: str, in_doubt: PreparedTransaction
) -> None:
    said = str(taking(url))
    if url.startswith('postgresql'):
        database = url.rsplit('/', 1)[1]
        assert f'database {database!r}' in said and 'seconds ago' in said and "holding 'invoices'" in said
        assert 'run the whole transaction again' not in said
    else:
        assert 'without saying which rows they hold' in said


def test_a_transaction_in_doubt_that_holds_the_row_is_not_retried(url: str, in_doubt: PreparedTransaction) -> None:
    error = taking(url)
    # On MariaDB any transaction may hold the row, so the conflict stays retryable.
    assert isinstance(error, TransientError) == (not url.startswith('postgresql'))


def test_a_pooled_reservation_held_up_by_a_transaction_in_doubt_names_it(
    url: str, in_doubt: PreparedTransaction
) -> None:
    engine = waiting_briefly(url)
    try:
        with Session(engine) as session, pytest.raises(expected(url), match=in_doubt.id):
            pooled.SequenceImplementation('invoices', session).next(session)
    finally:
        engine.dispose()


def test_the_command_line_lists_it_with_the_sequence_it_holds(
    url: str, in_doubt: PreparedTransaction, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(['in-doubt', '--json', '--url', url]) == 0
    (listed,) = [each for each in json.loads(capsys.readouterr().out) if each['id'] == in_doubt.id]
    assert listed['sequences'] == (['invoices'] if url.startswith('postgresql') else None)


def test_rolling_it_back_gives_its_value_back(
    url: str, in_doubt: PreparedTransaction, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(['in-doubt', 'rollback', in_doubt.id, '--url', url]) == 0
    assert main(['next', 'invoices', '--url', url]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == '1'


def test_committing_it_keeps_its_value(
    url: str, in_doubt: PreparedTransaction, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(['in-doubt', 'commit', in_doubt.id, '--url', url, '--json']) == 0
    assert json.loads(capsys.readouterr().out) == {'id': in_doubt.id, 'done': 'committed'}
    assert main(['next', 'invoices', '--url', url]) == 0
    assert capsys.readouterr().out == '2\n'


def test_the_command_line_refuses_an_id_that_is_not_in_doubt(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(['in-doubt', 'rollback', 'no-such-transaction', '--url', url]) == 1
    said = capsys.readouterr().err
    assert "no transaction in doubt" in said and "'no-such-transaction'" in said and said.count('\n') == 1


def test_next_on_the_command_line_says_the_sequence_is_held_in_doubt(
    url: str, in_doubt: PreparedTransaction, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(['next', 'invoices', '--url', url, '--timeout', '1']) == 1
    said = capsys.readouterr().err
    assert said.count('\n') == 1 and 'left in doubt' in said and repr(in_doubt.id) in said
    assert 'in-doubt rollback' in said


# A native sequence on PostgreSQL: nextval() takes no row lock, but a prepared
# transaction that called it holds a lock that restarting and dropping wait for.


@pytest.fixture
def native_in_doubt() -> Iterator[tuple[str, str]]:
    """The two-phase PostgreSQL's URL, with native sequence 'numbers' used by a transaction left prepared."""
    url = os.environ.get(SERVERS['postgresql'])
    if not url:
        needed(f"{SERVERS['postgresql']} is not set: no server to leave a transaction in doubt on", 'CI must set it.')
    gid = f'native-in-doubt-{os.getpid()}'
    engine = create_engine(url, isolation_level='AUTOCOMMIT')
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql('DROP SEQUENCE IF EXISTS numbers')
            connection.exec_driver_sql('CREATE SEQUENCE numbers')
            connection.exec_driver_sql('BEGIN')
            connection.exec_driver_sql("SELECT nextval('numbers')")
            connection.exec_driver_sql(f"PREPARE TRANSACTION '{gid}'")
        yield url, gid
    finally:
        with engine.connect() as connection:
            if connection.exec_driver_sql(f"SELECT 1 FROM pg_prepared_xacts WHERE gid = '{gid}'").first():
                connection.exec_driver_sql(f"ROLLBACK PREPARED '{gid}'")
            connection.exec_driver_sql('DROP SEQUENCE IF EXISTS numbers')
        engine.dispose()


def native_change(url: str, change: str, monkeypatch: pytest.MonkeyPatch) -> SequenceChangeBlocked:
    monkeypatch.setattr(native, 'LOCK_WAIT_SECONDS', 1)
    engine = create_engine(url)
    try:
        with Session(engine) as session, pytest.raises(SequenceChangeBlocked) as raised:
            sequence = native.SequenceImplementation.for_existing('numbers')
            if change == 'restart':
                sequence.restart(session, 100, force=True)
            else:
                sequence.drop(session)
    finally:
        engine.dispose()
    return raised.value


@pytest.mark.parametrize('change', ['restart', 'drop'])
def test_changing_a_native_sequence_held_in_doubt_names_the_transaction(
    native_in_doubt: tuple[str, str], change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, gid = native_in_doubt
    blocked = native_change(url, change, monkeypatch)
    assert [found.id for found in blocked.in_doubt] == [gid]
    assert 'left in doubt' in str(blocked) and f"ROLLBACK PREPARED '{gid}'" in str(blocked)


def test_a_native_change_blocked_by_an_ordinary_transaction_names_none(
    native_in_doubt: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, gid = native_in_doubt
    engine = create_engine(url, isolation_level='AUTOCOMMIT')
    with engine.connect() as connection:
        connection.exec_driver_sql(f"ROLLBACK PREPARED '{gid}'")
    with engine.connect() as holder:
        holder.exec_driver_sql('BEGIN')
        holder.exec_driver_sql("SELECT nextval('numbers')")
        blocked = native_change(url, 'restart', monkeypatch)
        holder.exec_driver_sql('ROLLBACK')
    engine.dispose()
    assert blocked.in_doubt == () and 'left in doubt' not in str(blocked)


def test_the_command_line_says_a_native_sequence_is_held_in_doubt(
    native_in_doubt: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, gid = native_in_doubt
    assert main(['restart', 'numbers', '100', '--force', '--impl', 'native', '--url', url, '--timeout', '1']) == 1
    said = capsys.readouterr().err
    assert said.count('\n') == 1 and 'left in doubt' in said and repr(gid) in said
    assert 'in-doubt rollback' in said
