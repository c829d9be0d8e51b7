"""Sequences on a three-node MariaDB Galera cluster, every node taking values.

The cluster comes from ``MORTAR_RDB_TEST_GALERA``: the URLs of its nodes,
comma-separated (``.ci/galera`` starts one and prints them). Without it these
tests skip, except in CI (``CI=true``), where they fail: CI must not go green
without ever running on a cluster. They empty the database they are given.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
import transaction
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from mortar_rdb import drop_tables, get_session, register_session
from mortar_rdb._galera import is_galera
from mortar_rdb.registry import isolated
from mortar_rdb.sequence import generic, get_sequence, native, pooled, register_sequence
from mortar_rdb.sequence._cli.main import main
from mortar_rdb.sequence.errors import (
    GaleraOffsetsRenumbered,
    NativeSequenceRepeatsAcrossNodes,
    SequenceConflict,
    SequenceNodeNotReady,
)
from mortar_rdb.twophase import server_can_prepare
from tests.clusters import galera_load
from tests.databases import needed

VARIABLE = 'MORTAR_RDB_TEST_GALERA'


@pytest.fixture(scope='module')
def nodes() -> list[str]:
    """The URLs of the cluster's nodes, its database emptied."""
    value = os.environ.get(VARIABLE)
    if not value:
        needed(
            f'{VARIABLE} is not set: no Galera cluster to test against',
            'CI must start one (.ci/galera) and set it.',
        )
    urls = [url.strip() for url in value.split(',') if url.strip()]
    if len(urls) < 3:
        pytest.fail(f'{VARIABLE} must give the URLs of three nodes, comma-separated, not {value!r}.')
    engine = create_engine(urls[0])
    try:
        if not is_galera(engine):
            pytest.fail(f'{urls[0]} is not a Galera node (wsrep_on is not ON).')
        drop_tables(engine)
    finally:
        engine.dispose()
    return urls


@pytest.fixture
def registry() -> Iterator[None]:
    with isolated():
        yield
    transaction.abort()


# Sessions --------------------------------------------------------------------


def test_a_galera_node_is_detected_and_does_not_prepare(nodes: list[str]) -> None:
    engine = create_engine(nodes[1])
    try:
        assert is_galera(engine)
        assert not server_can_prepare(engine)
    finally:
        engine.dispose()


def test_a_session_with_the_default_twophase_commits(nodes: list[str], registry: None) -> None:
    own = create_engine(nodes[1])
    register_session(engine=own)
    with transaction.manager:
        get_session().execute(text('CREATE TABLE IF NOT EXISTS galera_notes (id INT PRIMARY KEY)'))
    with transaction.manager:
        get_session().execute(text('INSERT INTO galera_notes VALUES (1)'))
    engine = create_engine(nodes[2])
    try:
        with engine.connect() as connection:
            assert connection.execute(text('SELECT id FROM galera_notes')).scalars().all() == [1]
            connection.execute(text('DROP TABLE galera_notes'))
    finally:
        engine.dispose()
        own.dispose()


# Native sequences --------------------------------------------------------------


def test_a_native_sequence_is_created_interleaved(nodes: list[str], registry: None) -> None:
    engine = create_engine(nodes[0])
    try:
        with Session(engine) as session:
            register_sequence('galera_native', session, impl=native.SequenceImplementation)
            ddl = session.execute(text('SHOW CREATE SEQUENCE galera_native')).one()[1]
    finally:
        engine.dispose()
    assert 'increment by 0' in ddl


def test_nodes_take_distinct_values_of_a_native_sequence(nodes: list[str], registry: None) -> None:
    engines = [create_engine(url) for url in nodes]
    try:
        with Session(engines[0]) as session:
            register_sequence('galera_spread', session, impl=native.SequenceImplementation)
        values = []
        for _ in range(3):
            for engine in engines:
                with Session(engine) as session:
                    values.append(native.SequenceImplementation('galera_spread', session).next(session))
    finally:
        for engine in engines:
            engine.dispose()
    assert len(set(values)) == len(values) == 9


def test_an_existing_native_sequence_that_would_repeat_values_is_refused(nodes: list[str], registry: None) -> None:
    engine = create_engine(nodes[0])
    try:
        with engine.begin() as connection:
            connection.execute(text('CREATE OR REPLACE SEQUENCE galera_counts_alike NOCACHE'))
        with Session(engine) as session:
            with pytest.raises(NativeSequenceRepeatsAcrossNodes) as raised:
                register_sequence('galera_counts_alike', session, impl=native.SequenceImplementation)
    finally:
        engine.dispose()
    message = str(raised.value)
    assert 'INCREMENT BY 1' in message
    assert 'ALTER SEQUENCE `galera_counts_alike` INCREMENT BY 0' in message


def test_a_refused_native_sequence_is_accepted_once_altered_as_told(nodes: list[str], registry: None) -> None:
    engine = create_engine(nodes[0])
    try:
        with engine.begin() as connection:
            connection.execute(text('CREATE OR REPLACE SEQUENCE galera_fixed NOCACHE'))
            connection.execute(text('ALTER SEQUENCE galera_fixed INCREMENT BY 0'))
        with Session(engine) as session:
            sequence = register_sequence('galera_fixed', session, impl=native.SequenceImplementation)
            assert sequence.next(session) >= 1
    finally:
        engine.dispose()


def test_native_sequences_are_refused_while_the_cluster_renumbers_offsets(nodes: list[str], registry: None) -> None:
    engine = create_engine(nodes[1])
    try:
        with engine.connect() as connection:
            increment, offset = connection.execute(
                text('SELECT @@global.auto_increment_increment, @@global.auto_increment_offset')
            ).one()
            connection.execute(text('SET GLOBAL wsrep_auto_increment_control = ON'))
        try:
            with Session(engine) as session:
                with pytest.raises(GaleraOffsetsRenumbered) as raised:
                    register_sequence('galera_renumbered', session, impl=native.SequenceImplementation)
        finally:
            with engine.connect() as connection:
                connection.execute(text('SET GLOBAL wsrep_auto_increment_control = OFF'))
                connection.execute(text(f'SET GLOBAL auto_increment_increment = {int(increment)}'))
                connection.execute(text(f'SET GLOBAL auto_increment_offset = {int(offset)}'))
    finally:
        engine.dispose()
    assert 'wsrep_auto_increment_control = OFF' in str(raised.value)


# Generic: certification failures -------------------------------------------------


def test_a_certification_failure_is_a_retryable_sequence_conflict(nodes: list[str], registry: None) -> None:
    first, second = create_engine(nodes[0]), create_engine(nodes[1])
    try:
        generic.sequences.create(first, checkfirst=True)
        with Session(first) as session:
            register_sequence('galera_certified', session)
            session.commit()
        loser, winner = Session(first), Session(second)
        sequence = generic.SequenceImplementation('galera_certified', winner)
        sequence.next(loser)  # the row, changed on node 1, not committed
        sequence.next(winner)
        winner.commit()  # node 2 commits first: node 1's transaction is aborted
        time.sleep(0.5)
        with pytest.raises(SequenceConflict) as raised:
            sequence.next(loser)
            loser.commit()
        assert transaction.manager.manager._retryable(type(raised.value), raised.value)
        loser.rollback()
        loser.close()
        winner.close()
    finally:
        first.dispose()
        second.dispose()


# A node that serves no queries -------------------------------------------------------


IMPLEMENTATIONS = {
    'generic': generic.SequenceImplementation,
    'pooled': pooled.SequenceImplementation,
    'native': native.SequenceImplementation,
}


@pytest.fixture
def refusing(nodes: list[str], registry: None) -> Iterator[str]:
    """The URL of node 2, with a session registered for it and a sequence of each
    implementation, set to refuse queries (as for maintenance: error 1047) until the test ends."""
    register_session(nodes[1])
    generic.sequences.create(get_session().bind, checkfirst=True)
    with transaction.manager:
        for name, implementation in IMPLEMENTATIONS.items():
            register_sequence(f'galera_refused_{name}', get_session(), impl=implementation)
    switch_to('ALL', nodes[1])
    try:
        yield nodes[1]
    finally:
        switch_to('NONE', nodes[1])


def switch_to(rejecting: str, url: str) -> None:
    """Set the node's wsrep_reject_queries on a driver connection that is never
    rolled back: while the node refuses queries it refuses ROLLBACK too, but still serves SET."""
    dialect = create_engine(url).dialect
    arguments, options = dialect.create_connect_args(make_url(url))
    connection = dialect.connect(*arguments, **options)  # the driver's own, untouched by SQLAlchemy
    try:
        connection.cursor().execute(f'SET GLOBAL wsrep_reject_queries = {rejecting}')
    finally:
        connection.close()


@pytest.mark.parametrize('implementation', list(IMPLEMENTATIONS))
def test_a_node_that_serves_no_queries_says_so_and_is_not_retried(refusing: str, implementation: str) -> None:
    # Through the transaction manager, as applications take values: its abort
    # must not replace our error with the node's refusal of the ROLLBACK.
    with pytest.raises(SequenceNodeNotReady) as raised:
        with transaction.manager:
            get_sequence(f'galera_refused_{implementation}').next(get_session())
    assert 'serves no queries' in str(raised.value) and refusing.split('@')[1].split('/')[0] in str(raised.value)
    assert not transaction.manager.manager._retryable(type(raised.value), raised.value)


@pytest.mark.parametrize('implementation', list(IMPLEMENTATIONS))
def test_values_are_taken_again_once_the_node_serves_queries(
    refusing: str, nodes: list[str], implementation: str
) -> None:
    with pytest.raises(SequenceNodeNotReady), transaction.manager:
        get_sequence(f'galera_refused_{implementation}').next(get_session())
    switch_to('NONE', nodes[1])
    with transaction.manager:
        assert get_sequence(f'galera_refused_{implementation}').next(get_session()) >= 1


def test_the_command_line_says_a_node_serves_no_queries(refusing: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['next', 'galera_refused_generic', '--url', refusing, '--timeout', '2']) == 1
    said = capsys.readouterr().err
    assert said.count('\n') == 1 and 'serves no queries' in said and 'Traceback' not in said
    assert '{' not in said and 'nothing was taken' in said


# Every implementation, a node killed and rejoined ---------------------------------


@pytest.mark.parametrize('implementation', ['generic', 'pooled', 'native'])
def test_no_value_is_handed_out_twice_while_a_node_dies_and_rejoins(
    nodes: list[str], implementation: str
) -> None:
    # Native sequences rely on the nodes' fixed offsets (.ci/galera sets
    # them): with Galera's default renumbering, this run saw duplicates.
    galera_load.prepare(nodes, implementation)
    victim = galera_load.pid_file(nodes[2])
    rejoined = threading.Event()

    def kill_and_rejoin() -> None:
        time.sleep(4)
        galera_load.kill_node(victim)
        time.sleep(3)
        galera_load.start_cluster()
        rejoined.set()

    outcome = galera_load.run(nodes, implementation, seconds=20, during=kill_and_rejoin)
    rows = galera_load.stored(nodes[0])
    assert rejoined.is_set()
    values = [value for value, _ in rows]
    assert len(values) == len(set(values))
    assert len(outcome.values) == len(set(outcome.values))
    assert not [error for error in outcome.failed if 'IntegrityError' in error]
    assert {node for _, node in rows} == {0, 1, 2}
    if implementation == 'generic':
        assert sorted(values) == list(range(1, len(values) + 1))
