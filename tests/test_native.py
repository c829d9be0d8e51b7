"""Native sequences: mortar_rdb.sequence.native on PostgreSQL and MariaDB.

What every implementation promises is in tests/guarantees/; here is what only
native sequences do. restart() and drop() work on a connection of their own
and take effect at once, so those tests end their transaction before calling
them.

Oracle and SQL Server have no server here: the SQL they would run is checked
as compiled. SQLite (and MySQL) have no sequences: registering says so.
"""
from __future__ import annotations

import threading

import pytest
import transaction
from sqlalchemy import BigInteger, Sequence, create_engine, event, inspect, text
from sqlalchemy.dialects import mssql, mysql, oracle, postgresql
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSequence, DropSequence
from zope.sqlalchemy import datamanager

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import drop_sequence, get_sequence, native, register_sequence
from mortar_rdb.sequence._dialects import native_sql_for
from mortar_rdb.sequence.errors import (
    InvalidSequenceName,
    InvalidSequenceValue,
    NativeOperationUnsupported,
    NativeSequenceExhausted,
    NativeSequenceMissing,
    NoNativeSequences,
    NotASequence,
    SequenceChangeBlocked,
    SequenceCreationBlocked,
    SequenceNotRegistered,
    SequenceRestartRefused,
)
from tests.databases import on_servers, only_on
from tests.helpers import run_in_threads

on_postgresql = only_on('postgresql')
on_mariadb = only_on('mariadb')
on_sqlite = only_on('sqlite')

NAME_LIMITS = {'postgresql': 63, 'mysql': 64, 'mariadb': 64}


def register(name, start=None, session=None):
    options = {} if start is None else {'start': start}
    return register_sequence(name, session or get_session(), impl=native.SequenceImplementation, **options)


def execute(url, *statements):
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement) if isinstance(statement, str) else statement)
    finally:
        engine.dispose()


def sequence_names(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return inspect(connection).get_sequence_names()
    finally:
        engine.dispose()


# Values ---------------------------------------------------------------------


@on_servers
def test_the_first_values_of_a_new_sequence_are_1_2_3(db_url):
    register_session(db_url)
    register('seq')
    assert [get_sequence('seq').next(get_session()) for _ in range(3)] == [1, 2, 3]


@on_servers
def test_start_is_the_first_value(db_url):
    register_session(db_url)
    register('seq', start=1000)
    assert [get_sequence('seq').next(get_session()) for _ in range(2)] == [1000, 1001]


@on_servers
def test_start_may_be_zero_or_negative(db_url):
    register_session(db_url)
    register('seq', start=-1)
    assert [get_sequence('seq').next(get_session()) for _ in range(3)] == [-1, 0, 1]


@on_servers
def test_values_are_64_bit(db_url):
    register_session(db_url)
    register('seq', start=2**63 - 10)
    assert get_sequence('seq').next(get_session()) == 2**63 - 10


def test_start_outside_64_bits_is_refused(db_url):
    register_session(db_url)
    with pytest.raises(InvalidSequenceValue, match='64-bit'):
        register('seq', start=2**63)


@on_servers
def test_a_rolled_back_value_is_not_reused(db_url):
    register_session(db_url)
    sequence = register('seq')
    transaction.commit()
    assert sequence.next(get_session()) == 1
    transaction.abort()
    assert sequence.next(get_session()) == 2


@on_servers
def test_values_outlive_a_transaction_that_only_took_values(db_url):
    register_session(db_url)
    sequence = register('seq')
    with transaction.manager:
        assert sequence.next(get_session()) == 1
    with transaction.manager:
        assert sequence.next(get_session()) == 2


@on_servers
def test_next_works_in_a_read_only_transaction(db_url):
    register_session(db_url)
    sequence = register('seq')
    transaction.commit()
    session = get_session()
    # Joined read-only before the session begins, which would join it as changed.
    datamanager.join_transaction(session, initial_state=datamanager.STATUS_READONLY)
    session.connection()
    assert sequence.next(session) == 1


# Registration -----------------------------------------------------------------


@on_servers
def test_registering_again_keeps_the_value(db_url):
    register_session(db_url)
    sequence = register('seq')
    assert [sequence.next(get_session()) for _ in range(3)] == [1, 2, 3]
    transaction.commit()
    again = register('seq', start=1)
    assert again.next(get_session()) == 4


@on_servers
def test_an_existing_sequence_is_adopted(db_url):
    execute(db_url, CreateSequence(Sequence('existing', start=50)))
    register_session(db_url)
    register('existing', start=1)
    assert get_sequence('existing').next(get_session()) == 50


@on_servers
def test_registering_needs_no_commit(db_url):
    register_session(db_url)
    register('seq')
    transaction.abort()
    assert 'seq' in sequence_names(db_url)


@on_servers
@pytest.mark.parametrize('twophase', [True, False], ids=['twophase', 'onephase'])
def test_registering_does_not_commit_the_callers_transaction(db_url, twophase):
    execute(db_url, 'CREATE TABLE guest (id INTEGER)')
    register_session(db_url, twophase=twophase)
    session = get_session()
    session.execute(text('INSERT INTO guest VALUES (1)'))
    register('seq')
    transaction.abort()
    assert session.execute(text('SELECT COUNT(*) FROM guest')).scalar() == 0


@on_servers
def test_the_callers_transaction_goes_on_after_registering(db_url):
    execute(db_url, 'CREATE TABLE guest (id INTEGER)')
    register_session(db_url, transactional=False)
    session = get_session()
    session.execute(text('INSERT INTO guest VALUES (1)'))
    sequence = register('seq')
    session.execute(text('INSERT INTO guest VALUES (:id)'), {'id': sequence.next(session)})
    session.commit()
    assert session.execute(text('SELECT COUNT(*) FROM guest')).scalar() == 2


@on_servers
def test_registering_inside_two_phase_transaction_works(db_url):
    # register_session asks for two-phase commit: XA on MariaDB, where
    # CREATE SEQUENCE is refused inside the transaction.
    register_session(db_url, twophase=True)
    session = get_session()
    session.connection()
    if session.bind.dialect.name in ('mysql', 'mariadb'):
        assert session.twophase
    sequence = register('seq')
    assert sequence.next(session) == 1
    transaction.commit()


@on_servers
def test_many_connections_registering_at_once_share_one_sequence(db_url):
    engine = create_engine(db_url, pool_size=8)
    barrier = threading.Barrier(8)
    values: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Session(engine) as session:
                barrier.wait(timeout=30)
                sequence = native.SequenceImplementation('raced', session)
                values.append(sequence.next(session))
                session.rollback()
        except BaseException as error:  # reported below
            errors.append(error)

    try:
        run_in_threads(worker, 8)
    finally:
        engine.dispose()
    assert errors == []
    assert sorted(values) == list(range(1, 9))


@on_servers
def test_a_table_with_the_name_is_a_clear_error(db_url):
    execute(db_url, 'CREATE TABLE taken (id INTEGER)')
    register_session(db_url)
    with pytest.raises(NotASequence, match="'taken'.*choose another name"):
        register('taken')


@on_postgresql
def test_creating_behind_the_callers_own_lock_gives_up_with_a_clear_error_on_postgresql(db_url, monkeypatch):
    monkeypatch.setattr(native, 'LOCK_WAIT_SECONDS', 1)
    register_session(db_url)
    get_session().execute(text('CREATE TABLE taken (id INTEGER)'))
    with pytest.raises(SequenceCreationBlocked, match="'taken' waited 1s for a lock"):
        register('taken')


@on_mariadb
def test_creating_behind_the_callers_own_lock_gives_up_with_a_clear_error_on_mariadb(db_url, monkeypatch):
    monkeypatch.setattr(native, 'LOCK_WAIT_SECONDS', 1)
    execute(db_url, 'CREATE TABLE taken (id INTEGER)')
    register_session(db_url)
    get_session().execute(text('SELECT * FROM taken'))
    with pytest.raises(SequenceCreationBlocked, match="'taken' waited 1s for a lock"):
        register('taken')


@on_mariadb
def test_creating_leaves_no_lock_timeout_behind_in_the_pool(db_url):
    register_session(db_url)
    register('seq')
    engine = get_session().bind
    with engine.connect() as connection:
        timeout = connection.execute(text('SELECT @@SESSION.lock_wait_timeout')).scalar()
        default = connection.execute(text('SELECT @@GLOBAL.lock_wait_timeout')).scalar()
    assert timeout == default


@on_sqlite
def test_sqlite_has_no_native_sequences(db_url):
    register_session(db_url)
    with pytest.raises(NoNativeSequences, match='SQLite has no native sequences.*generic.*pooled'):
        register('seq')


def test_mysql_has_no_native_sequences():
    sql = native_sql_for(mysql.dialect())
    assert not sql.supported
    assert str(NoNativeSequences(sql.database)).startswith('MySQL has no native sequences')


# Failures at next() -----------------------------------------------------------


@on_servers
def test_a_dropped_sequence_is_a_clear_error(db_url):
    register_session(db_url)
    sequence = register('seq')
    transaction.commit()
    execute(db_url, DropSequence(Sequence('seq')))
    # It may also be that the session is on another database: the message says so.
    missing = "'seq' does not exist in .*: it was dropped, or this session is on another database"
    with pytest.raises(NativeSequenceMissing, match=missing):
        sequence.next(get_session())


@on_servers
def test_an_exhausted_sequence_is_a_clear_error(db_url):
    execute(db_url, CreateSequence(Sequence('short', start=1, maxvalue=2)))
    register_session(db_url)
    sequence = register('short')
    assert [sequence.next(get_session()) for _ in range(2)] == [1, 2]
    with pytest.raises(NativeSequenceExhausted, match="'short' has reached its largest value"):
        sequence.next(get_session())


# Names ----------------------------------------------------------------------

AWKWARD_NAMES = [
    "it's",
    'say "when"',
    'back`tick',
    'x; DROP TABLE guest; --',
    "x'); DROP TABLE guest; --",
    'back\\slash',
    'trailing\\',
    'with space',
    'Ünïcödé Ñame',
    '100% %s %(name)s',
    'MixedCase',
    'select',
]


@on_servers
@pytest.mark.parametrize('name', AWKWARD_NAMES)
def test_a_name_is_used_verbatim_and_nothing_is_injected(db_url, name):
    execute(db_url, 'CREATE TABLE guest (id INTEGER)')
    register_session(db_url)
    sequence = register(name)
    assert [sequence.next(get_session()) for _ in range(2)] == [1, 2]
    assert sequence_names(db_url) == [name]
    assert get_session().execute(text('SELECT COUNT(*) FROM guest')).scalar() == 0


@on_postgresql
def test_backslashes_in_names_survive_postgresql_without_standard_conforming_strings(db_url):
    register_session(db_url)
    get_session().execute(text('SET standard_conforming_strings = off'))
    sequence = register('back\\slash\\')
    assert [sequence.next(get_session()) for _ in range(2)] == [1, 2]
    assert sequence_names(db_url) == ['back\\slash\\']


@on_servers
def test_names_work_on_engines_with_execution_events(db_url):
    register_session(db_url)
    seen: list[str] = []
    event.listen(get_session().bind, 'before_cursor_execute', lambda *arguments: seen.append(arguments[2]))
    sequence = register('100% %s')
    assert [sequence.next(get_session()) for _ in range(2)] == [1, 2]
    assert 'nextval' in seen[-1].lower()


@on_servers
def test_names_differing_only_in_case_are_two_sequences(db_url):
    register_session(db_url)
    upper, lower = register('Seq'), register('seq')
    assert [upper.next(get_session()), upper.next(get_session()), lower.next(get_session())] == [1, 2, 1]


@on_servers
def test_the_longest_name_the_database_holds_works(db_url):
    register_session(db_url)
    name = 'n' * NAME_LIMITS[get_session().bind.dialect.name]
    assert register(name).next(get_session()) == 1


@on_servers
def test_a_name_longer_than_the_database_holds_is_refused(db_url):
    register_session(db_url)
    name = 'n' * (NAME_LIMITS[get_session().bind.dialect.name] + 1)
    with pytest.raises(InvalidSequenceName, match='names a native sequence with at most'):
        register(name)


@on_servers
@pytest.mark.parametrize('name', ['', 'nul\x00byte'])
def test_an_empty_name_or_a_nul_is_refused(db_url, name):
    register_session(db_url)
    with pytest.raises(InvalidSequenceName):
        register(name)


def test_postgresql_counts_name_length_in_utf8_bytes():
    sql = native_sql_for(postgresql.dialect())
    sql.check_name('é' * 31 + 'x')  # 63 bytes
    with pytest.raises(InvalidSequenceName, match='64 bytes of UTF-8 long'):
        sql.check_name('é' * 32)


def test_mariadb_counts_name_length_in_characters():
    sql = native_sql_for(mysql.dialect(is_mariadb=True))
    sql.check_name('é' * 64)
    with pytest.raises(InvalidSequenceName, match='65 characters long'):
        sql.check_name('é' * 65)


@pytest.mark.parametrize('name', ['trailing ', 'emoji \U0001F600'])
def test_mariadb_refuses_names_it_cannot_hold(name):
    with pytest.raises(InvalidSequenceName, match='MariaDB names'):
        native_sql_for(mysql.dialect(is_mariadb=True)).check_name(name)


# Compiled SQL for the databases without a server here -------------------------


def compiled(dialect, element):
    return str(element.compile(dialect=dialect))


def test_postgresql_escapes_the_quoted_name_inside_nextvals_string():
    sql, parameters = native_sql_for(postgresql.dialect())._next_value_statement(r"""it's "x" \ 100%""")
    assert sql == r"""SELECT nextval(E'"it''s ""x"" \\ 100%"')"""
    assert parameters is None


def test_postgresql_creates_a_bigint_sequence():
    sql = native_sql_for(postgresql.dialect())
    assert compiled(sql.dialect, sql.create('seq', 7)) == 'CREATE SEQUENCE IF NOT EXISTS seq AS BIGINT START WITH 7'


def test_mariadb_creates_a_sequence_with_its_default_bigint_and_no_cache():
    # Without a cache, the sequence's table holds the next value, which current() reads.
    sql = native_sql_for(mysql.dialect(is_mariadb=True))
    assert compiled(sql.dialect, sql.create('seq', 7)) == 'CREATE SEQUENCE IF NOT EXISTS seq START WITH 7 CACHE 0'


def test_mariadb_quotes_the_name_with_backticks_and_needs_no_parameters():
    sql = native_sql_for(mysql.dialect(is_mariadb=True))
    assert sql._next_value_statement('100% `odd`') == ('SELECT nextval(`100% ``odd```) AS next_value_1', None)


def test_mssql_starts_at_the_requested_value_not_at_the_bottom_of_bigint():
    sql = native_sql_for(mssql.dialect())
    assert compiled(sql.dialect, sql.create('seq', 1)) == 'CREATE SEQUENCE seq AS BIGINT START WITH 1'
    assert compiled(sql.dialect, sql.create('seq', 42)) == 'CREATE SEQUENCE seq AS BIGINT START WITH 42'


def test_mssql_takes_next_value_for_a_bracketed_name():
    sql, _ = native_sql_for(mssql.dialect())._next_value_statement('odd]name')
    assert sql.startswith('SELECT NEXT VALUE FOR [odd]]name]')


def test_mssql_refuses_a_name_over_128_characters():
    sql = native_sql_for(mssql.dialect())
    sql.check_name('n' * 128)
    with pytest.raises(InvalidSequenceName):
        sql.check_name('n' * 129)


def test_oracle_sequence_is_capped_at_64_bits():
    sql = native_sql_for(oracle.dialect())
    assert compiled(sql.dialect, sql.create('seq', 1)) == (
        'CREATE SEQUENCE seq START WITH 1 MAXVALUE 9223372036854775807'
    )


def test_oracle_takes_nextval_from_dual():
    sql, _ = native_sql_for(oracle.dialect())._next_value_statement('MixedCase')
    assert sql.startswith('SELECT "MixedCase".nextval') and sql.endswith('FROM DUAL')


@pytest.mark.parametrize('dialect', [oracle.dialect(), mssql.dialect()], ids=['oracle', 'mssql'])
def test_current_and_restart_say_they_are_unsupported_where_untested(dialect):
    sql = native_sql_for(dialect)
    with pytest.raises(NativeOperationUnsupported, match='cannot read where a native sequence stands'):
        sql.current(None, 'seq')
    with pytest.raises(NativeOperationUnsupported, match='cannot restart a native sequence'):
        sql.restart(None, 'seq', 5, False, 10)


@pytest.mark.parametrize('name', ['say "when"', 'n' * 129])
def test_oracle_refuses_names_it_cannot_hold(name):
    with pytest.raises(InvalidSequenceName):
        native_sql_for(oracle.dialect()).check_name(name)


def test_sequences_are_built_as_bigint_where_the_dialect_says_so():
    sequence = native_sql_for(postgresql.dialect()).sequence('seq', 1)
    assert isinstance(sequence.data_type, BigInteger)


# IManagedSequence, where native sequences differ from the others ---------------


on_sqlite = pytest.mark.parametrize('db_url', ['sqlite'], indirect=True)


@pytest.fixture
def session(db_url):
    register_session(db_url)
    return get_session()


def registered(session, name='seq', **options):
    sequence = register_sequence(name, session, impl=native.SequenceImplementation, **options)
    transaction.abort()
    return sequence


def take(session, sequence, count=1):
    with transaction.manager:
        return sequence.next_many(session, count) if count != 1 else sequence.next(session)


# next_many ------------------------------------------------------------------


@on_servers
def test_next_many_returns_a_list_of_the_values_after_the_last_one(session):
    sequence = registered(session)
    take(session, sequence)
    assert take(session, sequence, 5) == [2, 3, 4, 5, 6]
    assert take(session, sequence) == 7


@on_servers
def test_next_many_values_are_increasing_and_unique_while_others_take_values(db_url):
    engine = create_engine(db_url, pool_size=5)
    with Session(engine) as session:
        native.SequenceImplementation('busy', session)
    barrier = threading.Barrier(4)
    batches: list[list[int]] = []

    def worker() -> None:
        with Session(engine) as session:
            sequence = native.SequenceImplementation.for_existing('busy')
            barrier.wait(timeout=30)
            for _ in range(20):
                batches.append(sequence.next_many(session, 50))
                session.rollback()

    try:
        run_in_threads(worker, 4)
    finally:
        engine.dispose()
    taken = [value for batch in batches for value in batch]
    assert sorted(taken) == list(range(1, 4001))
    assert all(batch == sorted(batch) and len(batch) == 50 for batch in batches)


@on_servers
def test_next_many_past_the_largest_value_is_a_clear_error(db_url, session):
    execute(db_url, CreateSequence(Sequence('short', start=1, maxvalue=3)))
    sequence = registered(session, 'short')
    with pytest.raises(OverflowError, match="'short' has reached its largest value"):
        sequence.next_many(session, 5)


# current --------------------------------------------------------------------


@on_servers
def test_current_counts_values_taken_by_other_connections(db_url, session):
    sequence = registered(session)
    engine = create_engine(db_url)
    try:
        with Session(engine) as other:
            sequence.next_many(other, 7)
            other.commit()
    finally:
        engine.dispose()
    assert sequence.current(session) == 7


# restart --------------------------------------------------------------------


@on_servers
def test_restart_never_hands_a_value_out_twice_while_others_take_values(db_url):
    # Each restart aims a little past where the sequence stands, while four
    # threads take values as fast as they can: some restarts are refused,
    # some go through, and no value may come out twice either way.
    engine = create_engine(db_url, pool_size=8)
    with Session(engine) as session:
        sequence = native.SequenceImplementation('busy', session)
    stop = threading.Event()
    taken: list[int] = []
    refused = done = 0

    def worker() -> None:
        with Session(engine) as session:
            while not stop.is_set():
                taken.append(sequence.next(session))
                session.rollback()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        with Session(engine) as session:
            for attempt in range(20):
                target = (sequence.current(session) or 0) + 5 * (attempt + 1)
                session.rollback()
                try:
                    sequence.restart(session, target)
                    done += 1
                except SequenceRestartRefused:
                    refused += 1
                session.rollback()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        engine.dispose()
    assert done + refused == 20
    assert len(taken) == len(set(taken))


@on_servers
@pytest.mark.parametrize('force', [False, True], ids=['forwards', 'forced'])
def test_restart_of_a_dropped_sequence_raises_native_sequence_missing(session, force):
    sequence = registered(session)
    drop_sequence('seq', session)
    with pytest.raises(NativeSequenceMissing):
        sequence.restart(session, 5, force=force)


@on_servers
def test_restart_does_not_touch_the_callers_transaction(db_url, session):
    execute(db_url, 'CREATE TABLE guest (id INTEGER)')
    sequence = registered(session)
    session.execute(text('INSERT INTO guest VALUES (1)'))
    sequence.restart(session, 20, force=True)
    transaction.abort()
    assert session.execute(text('SELECT COUNT(*) FROM guest')).scalar() == 0


@on_servers
def test_restart_behind_a_transaction_that_took_values_gives_up_with_a_clear_error(session, monkeypatch):
    monkeypatch.setattr(native, 'LOCK_WAIT_SECONDS', 1)
    sequence = registered(session)
    sequence.next(session)  # the transaction stays open, holding the sequence
    with pytest.raises(SequenceChangeBlocked, match="Restarting the native sequence 'seq' waited 1s"):
        # Only forcing needs that lock on MariaDB; PostgreSQL needs it for both.
        sequence.restart(session, 100, force=True)


# drop -----------------------------------------------------------------------


@on_servers
def test_drop_sequence_drops_it_at_once_and_removes_the_registration(db_url, session):
    take(session, registered(session), 3)
    assert drop_sequence('seq', session) is True
    transaction.abort()
    assert sequence_names(db_url) == []
    with pytest.raises(SequenceNotRegistered):
        get_sequence('seq')


@on_servers
def test_drop_storage_of_an_unknown_name_says_it_did_not_exist(session):
    assert native.SequenceImplementation.drop_storage('never', session) is False


@on_servers
def test_drop_sequence_of_an_unregistered_name_drops_its_sequence(db_url, session):
    execute(db_url, CreateSequence(Sequence('made_by_hand')))
    assert drop_sequence('made_by_hand', session, impl=native.SequenceImplementation) is True
    assert sequence_names(db_url) == []


@on_servers
def test_drop_leaves_a_table_of_that_name_alone(db_url, session):
    execute(db_url, 'CREATE TABLE taken (id INTEGER)')
    assert native.SequenceImplementation.drop_storage('taken', session) is False
    assert session.execute(text('SELECT COUNT(*) FROM taken')).scalar() == 0


@on_servers
def test_drop_behind_a_transaction_that_took_values_gives_up_with_a_clear_error(session, monkeypatch):
    monkeypatch.setattr(native, 'LOCK_WAIT_SECONDS', 1)
    sequence = registered(session)
    sequence.next(session)
    with pytest.raises(SequenceChangeBlocked, match="Dropping the native sequence 'seq' waited 1s"):
        sequence.drop(session)


# Where there are no native sequences -----------------------------------------


@on_sqlite
@pytest.mark.parametrize(
    'operation',
    [
        lambda sequence, session: sequence.next_many(session, 2),
        lambda sequence, session: sequence.current(session),
        lambda sequence, session: sequence.restart(session, 5),
        lambda sequence, session: sequence.drop(session),
        lambda sequence, session: native.names(session),
    ],
    ids=['next_many', 'current', 'restart', 'drop', 'names'],
)
def test_sqlite_says_it_has_no_native_sequences(session, operation):
    with pytest.raises(NoNativeSequences, match='SQLite has no native sequences'):
        operation(native.SequenceImplementation.for_existing('seq'), session)


@on_servers
def test_names_lists_the_native_sequences_sorted(db_url, session):
    registered(session, 'b')
    registered(session, 'a')
    assert native.names(session) == ['a', 'b']
