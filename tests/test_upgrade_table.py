"""Upgrading a mortar_rdb 3.0 sequences table in place."""
import pytest
import transaction
from sqlalchemy import create_engine, inspect
from sqlalchemy.orm import Session

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence.errors import InvalidSequenceName, SequenceTableMissing, SequenceTableNotUpgradable
from mortar_rdb.sequence.generic import SequenceImplementation
from mortar_rdb.sequence.schema import create_or_upgrade_table, create_table, outdated, upgrade_table
from tests.databases import only_on
from tests.helpers import make_mortar3_table


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def values(engine):
    with engine.connect() as connection:
        return sorted(connection.exec_driver_sql('SELECT name, current FROM sequences').all())


def test_a_mortar3_table_is_outdated(db_url, engine):
    make_mortar3_table(db_url)
    assert outdated(engine)


def test_upgrade_then_the_next_value_follows_the_stored_one(db_url, engine):
    make_mortar3_table(db_url)
    assert upgrade_table(engine) is True
    register_session(db_url)
    with transaction.manager:
        register_sequence('invoices', get_session())
    with transaction.manager:
        assert get_sequence('invoices').next(get_session()) == 42


def test_upgrade_keeps_every_name_and_value(db_url, engine):
    rows = [('a', 0), ('b' * 20, 2**31 - 1), ('orders', 7)]
    make_mortar3_table(db_url, rows)
    upgrade_table(engine)
    assert values(engine) == sorted(rows)


def test_an_upgraded_table_is_current(db_url, engine):
    make_mortar3_table(db_url)
    upgrade_table(engine)
    assert outdated(engine) == []
    columns = {column['name']: column for column in inspect(engine).get_columns('sequences')}
    assert columns['name']['type'].length == 255
    assert columns['current']['nullable'] is False


def test_an_upgraded_table_holds_long_names_and_64_bit_values(db_url, engine):
    make_mortar3_table(db_url, [('invoices', 2**31 - 1)])
    upgrade_table(engine)
    register_session(db_url)
    session = get_session()
    with transaction.manager:
        register_sequence('n' * 255, session, start=2**40)
    with transaction.manager:
        assert get_sequence('n' * 255).next(session) == 2**40
        assert SequenceImplementation('invoices', session).next(session) == 2**31


def test_upgrade_of_a_current_table_does_nothing(engine):
    create_table(engine)
    assert upgrade_table(engine) is False


def test_upgrade_without_a_table_raises_sequence_table_missing(engine):
    with pytest.raises(SequenceTableMissing, match='create-table'):
        upgrade_table(engine)


def test_upgrade_refuses_a_sequence_without_a_value_and_changes_nothing(db_url, engine):
    make_mortar3_table(db_url, [('invoices', 41), ('broken', None)])
    with pytest.raises(SequenceTableNotUpgradable, match="'broken'"):
        upgrade_table(engine)
    assert outdated(engine)
    assert values(engine) == [('broken', None), ('invoices', 41)]


def test_upgrade_refuses_a_table_mortar_rdb_did_not_make(engine):
    with engine.begin() as connection:
        connection.exec_driver_sql('CREATE TABLE sequences (id INTEGER PRIMARY KEY)')
    with pytest.raises(SequenceTableNotUpgradable, match='not made by mortar_rdb'):
        upgrade_table(engine)


def test_sessions_see_the_upgraded_shape_at_once(db_url):
    make_mortar3_table(db_url)
    register_session(db_url)
    session = get_session()
    with pytest.raises(InvalidSequenceName, match='at most 20'):
        register_sequence('x' * 21, session)
    transaction.abort()
    upgrade_table(session.bind)
    with transaction.manager:
        register_sequence('x' * 21, session)


# MySQL and MariaDB commit every ALTER TABLE at once.
@only_on('sqlite', 'postgresql')
def test_upgrade_on_a_connection_is_undone_by_its_rollback_where_ddl_is_transactional(db_url, engine):
    make_mortar3_table(db_url)
    with engine.connect() as connection:
        connection.begin()
        assert upgrade_table(connection) is True
        connection.rollback()
    assert outdated(engine)
    assert values(engine) == [('invoices', 41)]


def test_create_or_upgrade_table_creates_a_missing_table(engine):
    assert create_or_upgrade_table(engine) == 'created'
    assert outdated(engine) == []


def test_create_or_upgrade_table_upgrades_a_mortar3_table(db_url, engine):
    make_mortar3_table(db_url)
    assert create_or_upgrade_table(engine) == 'upgraded'
    assert values(engine) == [('invoices', 41)]


def test_create_or_upgrade_table_leaves_a_current_table_alone(engine):
    create_table(engine)
    assert create_or_upgrade_table(engine) == 'current'


def test_the_command_lines_upgrade_line_says_what_the_table_holds_now(db_url, capsys):
    from mortar_rdb.sequence.__main__ import main

    make_mortar3_table(db_url)
    assert main(['--url', db_url, 'upgrade-table']) == 0
    line = capsys.readouterr().out
    assert 'names now hold up to 255 characters (were 20)' in line
    assert 'now 64-bit' in line and 'no longer accepts NULL' in line
    assert 'not 255' not in line and 'current accepts NULL' not in line  # the old limits, as if they still applied
    assert '()' not in line  # a Python repr such as INTEGER()


def test_outdated_names_column_types_as_the_database_writes_them(db_url, engine):
    make_mortar3_table(db_url)
    assert not [difference for difference in outdated(engine) if '()' in difference]


@pytest.mark.parametrize('function', [create_table, upgrade_table, create_or_upgrade_table, outdated])
def test_a_session_without_a_bind_is_refused_saying_what_to_pass(function):
    with pytest.raises(TypeError, match=r'got None: a session bound per table .* Pass the engine'):
        function(Session().bind)
