"""The gapless generic implementation, on every configured database.

What every implementation promises is in tests/guarantees/; here is what only
the generic sequence does.
"""
import pytest
import transaction
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from zope.interface import implementer
from zope.interface.verify import verifyObject
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from mortar_rdb.interfaces import ISequence
from mortar_rdb.sequence import drop_sequence, get_sequence, register_sequence
from mortar_rdb.sequence.errors import (
    InvalidSequenceName,
    SequenceMissing,
    SequenceOverflow,
    SequenceTableMissing,
)
from mortar_rdb.sequence.generic import SequenceImplementation, sequences
from tests.helpers import make_mortar3_table, stored_values, write


@pytest.fixture
def session(db_url):
    """A transactional session on a database with the sequences table."""
    engine = create_engine(db_url)
    sequences.create(engine)
    engine.dispose()
    register_session(db_url)
    return get_session()


def registered(name, session):
    with transaction.manager:
        register_sequence(name, session)
    return get_sequence(name)


def test_the_implementation_provides_isequence(session):
    assert verifyObject(ISequence, registered('seq', session))


def test_a_new_sequence_starts_at_one(session):
    assert registered('seq', session).next(session) == 1


def test_values_follow_each_other_within_a_transaction(session):
    seq = registered('seq', session)
    assert [seq.next(session) for _ in range(3)] == [1, 2, 3]


def test_sequences_are_independent(session):
    first, second = registered('first', session), registered('second', session)
    first.next(session)
    assert second.next(session) == 1


def test_a_commit_consumes_the_value(session):
    seq = registered('seq', session)
    with transaction.manager:
        seq.next(session)
    assert seq.next(session) == 2


def test_rollback_gives_the_value_back(session):
    seq = registered('seq', session)
    seq.next(session)
    transaction.abort()
    assert seq.next(session) == 1


def test_a_committed_value_is_stored_although_zope_sqlalchemy_saw_no_orm_write(session, db_url):
    seq = registered('seq', session)
    with transaction.manager:
        seq.next(session)
    assert stored_values(db_url) == {'seq': 1}


def test_registration_creates_the_row_in_the_callers_transaction(session, db_url):
    with transaction.manager:
        register_sequence('seq', session)
        assert stored_values(db_url) == {}
    assert stored_values(db_url) == {'seq': 0}


def test_registration_rolled_back_creates_nothing(session, db_url):
    register_sequence('seq', session)
    transaction.abort()
    assert stored_values(db_url) == {}


def test_registering_again_keeps_the_value(session):
    seq = registered('seq', session)
    with transaction.manager:
        seq.next(session)
    assert registered('seq', session).next(session) == 2


def test_registering_again_replaces_the_registered_object(session):
    first = registered('seq', session)
    assert registered('seq', session) is not first
    assert get_sequence('seq') is not first


def test_get_sequence_of_an_unknown_name_says_how_to_register_it():
    with pytest.raises(LookupError, match=r"'nope'.*register_sequence\('nope', session\)"):
        get_sequence('nope')


def test_register_sequence_passes_options_to_the_implementation(session):
    seen = {}

    class Recording(SequenceImplementation):
        def __init__(self, name, session, **options):
            seen.update(options)
            super().__init__(name, session)

    with transaction.manager:
        register_sequence('seq', session, impl=Recording, colour='blue')
    assert seen == {'colour': 'blue'}
    assert isinstance(get_sequence('seq'), Recording)


def test_a_missing_row_is_an_error_not_a_restart(session, db_url):
    seq = registered('seq', session)
    with transaction.manager:
        seq.next(session)
    with transaction.manager:
        write(session, delete(sequences))
    with pytest.raises(SequenceMissing, match="'seq' has no row"):
        seq.next(session)


def test_registration_without_the_table_says_how_to_create_it(db_url):
    register_session(db_url)
    with pytest.raises(SequenceTableMissing, match='create-table'):
        register_sequence('seq', get_session())


def test_next_without_the_table_says_how_to_create_it(session, db_url):
    seq = registered('seq', session)
    engine = create_engine(db_url)
    sequences.drop(engine)
    engine.dispose()
    with pytest.raises(SequenceTableMissing, match='create-table'):
        seq.next(session)


@pytest.mark.parametrize('name', [None, 42, b'bytes'])
def test_a_name_that_is_not_a_string_is_refused(session, name):
    with pytest.raises(InvalidSequenceName, match='must be a str'):
        register_sequence(name, session)


def test_an_empty_name_is_refused(session):
    with pytest.raises(ValueError, match='must not be empty'):
        register_sequence('', session)


def test_a_name_longer_than_the_column_is_refused_naming_the_limit(session):
    with pytest.raises(ValueError, match='at most 255'):
        register_sequence('x' * 256, session)


def test_the_longest_name_the_column_holds_works(session):
    assert registered('x' * 255, session).next(session) == 1


@pytest.mark.parametrize('name', ["it's", 'a"b', "x'); DROP TABLE sequences; --", 'back\\slash', ' spaced ', 'nüméro'])
def test_names_are_stored_verbatim_as_bound_parameters(session, db_url, name):
    with transaction.manager:
        register_sequence(name, session)
        get_sequence(name).next(session)
    assert stored_values(db_url) == {name: 1}


def test_names_differing_in_case_or_trailing_space_are_different_sequences(session, db_url):
    for name in ('seq', 'SEQ', 'seq '):
        registered(name, session)
    with transaction.manager:
        get_sequence('seq').next(session)
    assert stored_values(db_url) == {'seq': 1, 'SEQ': 0, 'seq ': 0}


@pytest.fixture
def legacy_session(db_url):
    """A session on a database whose sequences table mortar_rdb 3.0 made."""
    make_mortar3_table(db_url)
    register_session(db_url)
    return get_session()


def test_a_mortar_rdb_3_table_continues_from_its_stored_value(legacy_session):
    assert registered('invoices', legacy_session).next(legacy_session) == 42


def test_a_mortar_rdb_3_table_refuses_names_over_20_characters(legacy_session):
    with pytest.raises(ValueError, match='at most 20'):
        register_sequence('x' * 21, legacy_session)


def test_a_32_bit_legacy_column_stops_at_its_top_with_the_fix_in_the_error(legacy_session, db_url):
    seq = registered('invoices', legacy_session)
    with transaction.manager:
        write(legacy_session, update(sequences).values(current=2**31 - 2))
    assert seq.next(legacy_session) == 2**31 - 1
    if legacy_session.bind.dialect.name == 'sqlite':
        # SQLite integers are 64-bit whatever the declared type.
        assert seq.next(legacy_session) == 2**31
        return
    with pytest.raises(SequenceOverflow, match='upgrade-table'):
        seq.next(legacy_session)


def test_a_64_bit_column_stops_at_its_top_instead_of_wrapping(session, db_url):
    seq = registered('seq', session)
    with transaction.manager:
        write(session, update(sequences).values(current=2**63 - 2))
    assert seq.next(session) == 2**63 - 1
    with pytest.raises(SequenceOverflow, match='reached 9223372036854775807'):
        seq.next(session)
    transaction.abort()
    assert stored_values(db_url) == {'seq': 2**63 - 2}


def test_a_non_transactional_session_commits_its_own_values(db_url):
    engine = create_engine(db_url)
    sequences.create(engine)
    engine.dispose()
    register_session(db_url, transactional=False)
    session = get_session()
    seq = register_sequence('seq', session)
    session.commit()
    assert seq.next(session) == 1
    session.commit()
    assert seq.next(session) == 2
    session.rollback()
    assert seq.next(session) == 2


def test_a_plain_session_works_without_registering_it(db_url):
    engine = create_engine(db_url)
    sequences.create(engine)
    with Session(engine) as session:
        seq = SequenceImplementation('seq', session)
        assert [seq.next(session), seq.next(session)] == [1, 2]
        session.commit()
    engine.dispose()
    assert stored_values(db_url) == {'seq': 2}


def test_an_echoing_engine_logs_the_sequence_sql(db_url, caplog):
    engine = create_engine(db_url)
    sequences.create(engine)
    engine.dispose()
    register_session(db_url, echo=True)
    session = get_session()
    seq = registered('seq', session)
    with caplog.at_level('INFO', logger='sqlalchemy.engine'):
        assert seq.next(session) == 1
    assert 'UPDATE sequences' in caplog.text


def test_a_value_taken_after_a_failed_statement_needs_a_rollback_first(session):
    seq = registered('seq', session)
    with pytest.raises(DBAPIError):
        session.execute(text('SELECT * FROM no_such_table'))
    transaction.abort()
    assert seq.next(session) == 1


def test_a_row_inserted_with_only_a_name_starts_at_one(session):
    with transaction.manager:
        session.execute(sequences.insert().values(name='seq'))
        mark_changed(session)
    assert registered('seq', session).next(session) == 1


def test_a_row_inserted_by_hand_in_sql_with_only_a_name_starts_at_one(session):
    with transaction.manager:
        session.execute(text("INSERT INTO sequences (name) VALUES ('seq')"))
        mark_changed(session)
    assert registered('seq', session).next(session) == 1


def what_the_driver_raises_for_a_missing_table(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
            connection.execute(text('SELECT * FROM no_such_table'))
    finally:
        engine.dispose()
    return type(raised.value)


@pytest.mark.parametrize('impl', ['generic', 'pooled'])
def test_code_written_for_3_0_still_catches_a_missing_table(db_url, impl):
    from mortar_rdb.sequence import pooled

    register_session(db_url)
    implementation = {'generic': SequenceImplementation, 'pooled': pooled.SequenceImplementation}[impl]
    try:
        with transaction.manager:
            register_sequence('seq', get_session(), impl=implementation)
    except (ProgrammingError, OperationalError) as error:
        caught = error
    assert isinstance(caught, SequenceTableMissing)
    assert isinstance(caught, what_the_driver_raises_for_a_missing_table(db_url))
    assert str(caught).startswith('The sequences table does not exist in ')


# IManagedSequence, where the generic sequence differs from the others ----------


def take(session, sequence):
    """One value, in a committed transaction of its own."""
    with transaction.manager:
        return sequence.next(session)


def test_next_many_returns_a_contiguous_range_after_the_last_value(session):
    sequence = registered('seq', session)
    take(session, sequence)
    with transaction.manager:
        batch = sequence.next_many(session, 5)
    assert batch == range(2, 7)
    assert take(session, sequence) == 7


def test_next_many_refuses_a_batch_past_the_largest_value(session):
    sequence = registered('seq', session)
    with transaction.manager:
        sequence.restart(session, 2**63 - 3)
    with pytest.raises(OverflowError, match='nothing was handed out'):
        sequence.next_many(session, 5)
    transaction.abort()
    with transaction.manager:
        assert sequence.next_many(session, 3) == range(2**63 - 3, 2**63)


def test_a_batch_larger_than_what_is_left_says_how_many_are_left(session):
    sequence = registered('seq', session)
    with transaction.manager:
        sequence.restart(session, 2**63 - 3)
    with pytest.raises(SequenceOverflow) as raised:
        sequence.next_many(session, 100000)
    transaction.abort()
    assert (raised.value.count, raised.value.left) == (100000, 3)
    assert "'seq' has 3 values left" in str(raised.value) and 'Take at most 3.' in str(raised.value)
    assert 'start a new sequence' not in str(raised.value)


def test_drop_sequence_refuses_a_sequence_that_cannot_drop_its_storage(session):
    @implementer(ISequence)
    class Plain:
        def __init__(self, name, session):
            pass

        def next(self, session):
            return 1

    register_sequence('plain', session, impl=Plain)
    with pytest.raises(TypeError, match='cannot drop its own storage'):
        drop_sequence('plain', session)
    assert get_sequence('plain').next(session) == 1


def test_operations_without_the_table_raise_sequence_table_missing(db_url):
    register_session(db_url)
    session = get_session()
    sequence = SequenceImplementation.for_existing('seq')
    for operation in (
        lambda: sequence.current(session),
        lambda: sequence.next_many(session, 2),
        lambda: sequence.restart(session, 2),
        lambda: drop_sequence('seq', session),
    ):
        with pytest.raises(SequenceTableMissing):
            operation()
        transaction.abort()
