"""Errors carry the facts their messages are made of, decided once where the driver's error became ours."""
import pickle
import threading

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from mortar_rdb.sequence import generic
from mortar_rdb.sequence.errors import (
    InvalidSequenceValue,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceStatementTimeout,
)
from tests.databases import on_servers


def bounded(db_url, lock_seconds=None, statement_seconds=None):
    """An engine whose sessions give up on a lock or a statement after so long."""
    engine = create_engine(db_url, connect_args={'timeout': lock_seconds} if db_url.startswith('sqlite') else {})

    @event.listens_for(engine, 'connect')
    def bound(dbapi_connection, record):
        settings = {
            'postgresql': [
                f'SET lock_timeout = {int((lock_seconds or 0) * 1000)}',
                f'SET statement_timeout = {int((statement_seconds or 0) * 1000)}',
            ],
            'mysql': [
                f'SET SESSION innodb_lock_wait_timeout = {int(lock_seconds or 50)}',
                f'SET SESSION max_statement_time = {statement_seconds or 0}',
            ],
        }.get(engine.dialect.name, [])
        cursor = dbapi_connection.cursor()
        for statement in settings:
            cursor.execute(statement)
        cursor.close()

    return engine


def waiting_for_a_held_row(db_url, waiter):
    """What taking a value raises while another transaction holds the row, on ``waiter``."""
    holder = create_engine(db_url)
    generic.sequences.create(holder, checkfirst=True)
    with Session(holder) as session, session.begin():
        generic.SequenceImplementation('invoices', session)
    try:
        with Session(holder) as holding:
            holding.begin()
            generic.SequenceImplementation.for_existing('invoices').next(holding)
            raised = []

            def wait():
                with Session(waiter) as session:
                    try:
                        with session.begin():
                            generic.SequenceImplementation.for_existing('invoices').next(session)
                    except Exception as error:
                        raised.append(error)

            thread = threading.Thread(target=wait)
            thread.start()
            thread.join(60)
            holding.rollback()
        return raised[0]
    finally:
        waiter.dispose()
        holder.dispose()


def test_a_lock_wait_that_ran_out_says_what_it_waited_for(db_url):
    error = waiting_for_a_held_row(db_url, bounded(db_url, lock_seconds=0.2 if 'sqlite' in db_url else 1))
    assert isinstance(error, SequenceConflict)
    assert error.lock == ('database' if db_url.startswith('sqlite') else 'row')


@on_servers
def test_a_statement_the_server_stopped_at_its_limit_is_a_statement_timeout(db_url):
    error = waiting_for_a_held_row(db_url, bounded(db_url, lock_seconds=30, statement_seconds=0.3))
    assert isinstance(error, SequenceStatementTimeout)
    assert 'time limit' in str(error)


@pytest.mark.parametrize(
    'error',
    [
        SequenceConflict(RuntimeError('locked'), '', 'database'),
        SequenceConnectionLost(RuntimeError('timed out'), True),
        SequenceStatementTimeout('sqlite:///x.db', RuntimeError('canceled')),
        InvalidSequenceValue('The restart value must be between 1 and 2147483647, not 3000000000.', 'values up to 9'),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_error_pickles_with_its_facts(error):
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), repr(copy.args)) == (type(error), str(error), repr(error.args))


def test_a_refused_value_keeps_its_problem_apart_from_the_advice():
    error = InvalidSequenceValue('The value must be between 1 and 2147483647, not 3000000000.', 'values up to 9')
    assert error.problem == 'The value must be between 1 and 2147483647, not 3000000000.'
    assert str(error).startswith(error.problem) and 'upgrade_table()' in str(error)
