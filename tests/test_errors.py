"""Errors say what to do, and survive the trip from a worker process."""
import pickle

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from mortar_rdb.sequence import generic, pooled
from mortar_rdb.sequence._dialects import PreparedTransaction
from mortar_rdb.sequence.errors import (
    BlockReservationBlocked,
    InvalidSequenceName,
    NativeOperationUnsupported,
    NoSuchSequence,
    SequenceChangeBlocked,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceMissing,
    SequenceNodeNotReady,
    SequenceNotRegistered,
    SequenceOverflow,
    SequenceRestartRefused,
    SequenceTableMissing,
)
from mortar_rdb.sequence.generic import sequences

IN_DOUBT = PreparedTransaction('t1', 'test', 5, ('seq',), "COMMIT PREPARED 't1'", "ROLLBACK PREPARED 't1'")

ERRORS = [
    SequenceNotRegistered('seq'),
    SequenceTableMissing('sqlite://'),
    SequenceMissing('seq', 'sqlite://'),
    SequenceOverflow('seq', 2**31 - 1),
    SequenceOverflow('seq', 2**63 - 1, 100, 3),
    InvalidSequenceName('A sequence name must not be empty.'),
    SequenceRestartRefused('seq', 10, 5),
    NoSuchSequence('seq', 'sqlite://'),
    NoSuchSequence('seq', 'sqlite://', ' --impl native'),
    SequenceChangeBlocked('seq', 10, 'Dropping'),
    SequenceChangeBlocked('seq', 1, 'Restarting', (IN_DOUBT,)),
    SequenceNodeNotReady('mysql+pymysql://root@127.0.0.1:3313/test'),
    NativeOperationUnsupported('Oracle cannot.'),
    BlockReservationBlocked('seq', 'restart'),
]


@pytest.mark.parametrize('error', ERRORS, ids=lambda error: type(error).__name__)
def test_errors_pickle_with_their_message(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)


def test_an_unknown_sequence_is_a_lookup_error():
    assert isinstance(SequenceNotRegistered('seq'), LookupError)


def test_a_bad_name_is_both_a_value_and_a_type_error():
    assert isinstance(InvalidSequenceName('x'), ValueError)
    assert isinstance(InvalidSequenceName('x'), TypeError)


def test_overflow_of_a_32_bit_column_names_the_upgrade():
    assert 'upgrade-table' in str(SequenceOverflow('seq', 2**31 - 1))


def test_overflow_of_a_64_bit_column_says_to_start_a_new_sequence():
    assert 'start a new sequence' in str(SequenceOverflow('seq', 2**63 - 1))


def test_an_unknown_sequence_raises_zopes_component_lookup_error_itself():
    from zope.interface.interfaces import ComponentLookupError

    from mortar_rdb.sequence import get_sequence

    with pytest.raises(ComponentLookupError) as raised:
        get_sequence('unknown')
    assert type(raised.value) is ComponentLookupError
    assert str(raised.value) == (
        "No sequence is registered with the name 'unknown': "
        "call register_sequence('unknown', session) during configuration."
    )


def test_code_that_catches_sequence_not_registered_still_catches_an_unknown_sequence():
    from mortar_rdb.sequence import get_sequence

    with pytest.raises(SequenceNotRegistered):
        get_sequence('unknown')


@pytest.mark.parametrize(
    'error',
    [SequenceConflict(RuntimeError('deadlock'), ' advice'), SequenceConnectionLost(RuntimeError('gone'))],
    ids=lambda error: type(error).__name__,
)
def test_retryable_errors_are_also_the_operational_error_3_0_let_through(error):
    from sqlalchemy.exc import OperationalError

    assert isinstance(error, OperationalError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert str(copy.orig) == str(error.orig)


def test_a_locked_sqlite_database_is_blamed_on_another_writer_not_the_same_sequence():
    import sqlite3

    message = str(SequenceConflict(sqlite3.OperationalError("database is locked"), lock="database"))
    assert message.startswith('The database is locked by another writer')
    assert 'same sequence' not in message


@pytest.mark.parametrize('given', ['engine', 'connection', 'none'])
@pytest.mark.parametrize('impl', ['generic', 'pooled'])
def test_something_other_than_a_session_is_refused_with_what_to_pass(db_url, impl, given):
    engine = create_engine(db_url)
    sequences.create(engine)
    implementation = {'generic': generic.SequenceImplementation, 'pooled': pooled.SequenceImplementation}[impl]
    with engine.connect() as connection:
        wrong = {'engine': engine, 'connection': connection, 'none': None}[given]
        refused = r'needs a SQLAlchemy Session \(or scoped_session\) here, not .*: pass get_session\(\)'
        with pytest.raises(TypeError, match=refused):
            implementation('seq', wrong)
    engine.dispose()


@pytest.mark.parametrize('given', ['engine', 'connection', 'none'])
def test_next_given_something_other_than_a_session_says_what_to_pass(db_url, given):
    engine = create_engine(db_url)
    sequences.create(engine)
    with Session(engine) as session, session.begin():
        sequence = generic.SequenceImplementation('seq', session)
    with engine.connect() as connection:
        wrong = {'engine': engine, 'connection': connection, 'none': None}[given]
        with pytest.raises(TypeError, match='pass get_session'):
            sequence.next(wrong)
    engine.dispose()
