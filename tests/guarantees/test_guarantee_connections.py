"""A connection that the server ends (as a restart does) fails with a clear,
retryable error, and the retry gets a new connection. No duplicate."""
from __future__ import annotations

from typing import Any

import pytest
import transaction
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from transaction.interfaces import TransientError

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence.errors import SequenceConnectionLost
from tests.guarantees.cases import on_callers_connection, on_own_connection, on_servers

# SQLite runs in the process: there is no connection to lose.
pytestmark = on_servers


@pytest.fixture
def server(setup: Any) -> Any:
    return setup


def registered(server: Any, **engine_options: Any) -> Any:
    """The sequence 'seq', and a pool holding one connection: the one the next transaction gets."""
    engine = server.engine(**engine_options)
    register_session(engine=engine)
    with transaction.manager:
        sequence = server.implementation.register('seq', get_session())
    engine.dispose()
    with transaction.manager:
        get_session().execute(text('SELECT 1'))
    return sequence


def attempts_and_errors(function: Any) -> tuple[Any, list[BaseException]]:
    """Run ``function`` with transaction.manager.attempts(); what it returned, what failed."""
    errors: list[BaseException] = []
    for attempt in transaction.manager.attempts(3):
        with attempt:
            try:
                result = function()
            except BaseException as error:
                errors.append(error)
                raise
    return result, errors


@on_callers_connection
def test_a_connection_that_died_in_the_pool_fails_with_a_retryable_error_and_the_retry_recovers(server):
    sequence = registered(server)
    server.kill_all_connections()
    value, errors = attempts_and_errors(lambda: sequence.next(get_session()))
    assert value == 1
    [error] = errors
    assert isinstance(error, SequenceConnectionLost)
    assert isinstance(error, TransientError)
    assert 'pool_pre_ping=True' in str(error)


@on_callers_connection
def test_with_pool_pre_ping_a_connection_that_died_in_the_pool_is_replaced_unseen(server):
    sequence = registered(server, pool_pre_ping=True)
    server.kill_all_connections()
    value, errors = attempts_and_errors(lambda: sequence.next(get_session()))
    assert (value, errors) == (1, [])


@on_callers_connection
def test_a_connection_lost_in_the_middle_of_a_transaction_gives_its_values_back(server):
    sequence = registered(server)
    killed = []

    def two_values() -> list[int]:
        session = get_session()
        first = sequence.next(session)
        if not killed:
            killed.append(server.connection_id(session))
            server.kill_connection(killed[0])
        return [first, sequence.next(session)]

    values, errors = attempts_and_errors(two_values)
    assert [type(error) for error in errors] == [SequenceConnectionLost]
    if server.implementation.gapless:
        assert values == [1, 2]
    with Session(server.engine()) as session:
        assert sequence.next(session) == values[-1] + 1


@on_callers_connection
def test_a_connection_lost_at_commit_raises_the_database_error_and_is_not_retried(server):
    sequence = registered(server)
    tries = []
    with pytest.raises(DBAPIError) as caught:
        for attempt in transaction.manager.attempts(3):
            with attempt:
                tries.append(sequence.next(get_session()))
                connection_id = server.connection_id(get_session())
                transaction.get().addBeforeCommitHook(server.kill_connection, (connection_id,))
    assert tries == [1]
    assert caught.value.connection_invalidated
    with Session(server.engine()) as session:
        # The server never saw the COMMIT, so the value came back.
        assert sequence.next(session) == 1 or not server.implementation.gapless


@on_own_connection
def test_a_pooled_sequence_whose_reservation_connection_died_reserves_on_a_new_one_unseen(server):
    sequence = registered(server)
    server.kill_all_connections()
    values, errors = attempts_and_errors(lambda: [sequence.next(get_session()) for _ in range(11)])
    assert (values, errors) == (list(range(1, 12)), [])
