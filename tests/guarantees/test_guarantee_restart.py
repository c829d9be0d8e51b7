"""PostgreSQL and MariaDB restarted under a running application: clear errors,
the next transaction recovers, no value twice.

These restart the local servers, which breaks anything else using them at the
time, so they only run with MORTAR_RDB_TEST_RESTARTS=1 (as .ci/run sets).
Every test leaves the servers running.
"""
from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import transaction

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence.errors import SequenceConnectionLost
from tests.guarantees.cases import on_callers_connection, on_own_connection, on_servers

# SQLite has no server to restart.
pytestmark = [pytest.mark.restarts_servers, on_servers]

PG_VERSION = sorted(path.name for path in Path('/etc/postgresql').glob('*'))[-1:] or ['15']
IS_UP = {
    'postgresql': ['pg_isready', '-q', '-h', '127.0.0.1', '-p', '5432'],
    'mysql': ['mariadb-admin', '--user=root', '--host=127.0.0.1', '--silent', 'ping'],
}
START = {
    'postgresql': ['pg_ctlcluster', '--skip-systemctl-redirect', *PG_VERSION, 'main', 'start'],
    'mysql': ['start-stop-daemon', '--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'],
}
STOP = {
    'postgresql': ['pg_ctlcluster', '--skip-systemctl-redirect', *PG_VERSION, 'main', 'stop', '--', '-m', 'fast'],
    'mysql': ['mariadb-admin', '--user=root', '--host=127.0.0.1', 'shutdown'],
}
#: the errors a worker may see while the server restarts, by class name
EXPECTED_ERRORS = ('sqlalchemy.exc.OperationalError', 'mortar_rdb.sequence.errors.SequenceConnectionLost')


def is_up(backend: str) -> bool:
    return subprocess.run(IS_UP[backend], capture_output=True).returncode == 0


def wait_until_up(backend: str) -> None:
    for _ in range(600):
        if is_up(backend):
            return
        time.sleep(0.1)
    raise AssertionError(f'{backend} did not come back within 60 s')


def wait_until_stopped(backend: str) -> None:
    """Until the server process has gone (start-stop-daemon would take a
    server still shutting down for a running one)."""
    if backend != 'mysql':
        return  # pg_ctlcluster stop waits by itself
    for _ in range(600):
        if subprocess.run(['start-stop-daemon', '--status', '--exec', '/usr/sbin/mariadbd']).returncode != 0:
            return
        time.sleep(0.1)
    raise AssertionError('mariadbd did not stop within 60 s')


def start(backend: str) -> None:
    wait_until_stopped(backend)
    subprocess.run(START[backend], check=True, capture_output=True)
    wait_until_up(backend)


def restart(backend: str) -> None:
    subprocess.run(STOP[backend], check=True, capture_output=True)
    start(backend)


@pytest.fixture
def server(setup: Any) -> Iterator[Any]:
    try:
        yield setup
    finally:
        if not is_up(setup.backend):
            start(setup.backend)


def registered(server: Any, **engine_options: Any) -> Any:
    register_session(engine=server.engine(**engine_options))
    with transaction.manager:
        sequence = server.implementation.register('seq', get_session())
    with transaction.manager:
        assert sequence.next(get_session()) == 1
    return sequence


@on_callers_connection  # the next test covers the others
def test_after_a_restart_the_first_transaction_fails_retryably_and_the_retry_recovers(server):
    sequence = registered(server)
    restart(server.backend)
    errors = []
    for attempt in transaction.manager.attempts(3):
        with attempt:
            try:
                value = sequence.next(get_session())
            except Exception as error:
                errors.append(error)
                raise
    assert value == 2
    assert [type(error) for error in errors] == [SequenceConnectionLost]


@on_own_connection
def test_after_a_restart_a_pooled_sequence_reserves_its_next_block_on_a_new_connection_unseen(server):
    sequence = registered(server)  # took 1 of its first block
    block = server.implementation.options['block_size']
    restart(server.backend)
    for attempt in transaction.manager.attempts(1):
        with attempt:
            values = [sequence.next(get_session()) for _ in range(block)]
    assert values == list(range(2, block + 2))


def test_after_a_restart_pool_pre_ping_replaces_the_dead_connections_unseen(server):
    sequence = registered(server, pool_pre_ping=True)
    restart(server.backend)
    with transaction.manager:
        assert sequence.next(get_session()) == 2


def test_workers_running_through_a_restart_go_on_and_commit_no_value_twice(server):
    with transaction.manager:
        register_session(engine=server.engine())
        server.implementation.register('seq', get_session())
    workers = [server.worker('patient', 'seq') for _ in range(2)]
    try:
        for worker in workers:
            worker.wait_until(bool, 'committed a value')
        restart(server.backend)
        # Each worker's values rise, so one above everything committed by now
        # was committed after the restart.
        high_water = max(server.committed())
        for worker in workers:
            worker.wait_until(lambda taken: taken[-1] > high_water, 'committed a value after the restart')
    finally:
        returncodes = [worker.stop() for worker in workers]
    assert returncodes == [0, 0], [worker.lines[-5:] for worker in workers]
    lines = [line for worker in workers for line in worker.lines]
    errors = [line for line in lines if line.startswith('error ')]
    print(*errors, sep='\n')
    assert all(line.split()[1].rstrip(':') in EXPECTED_ERRORS for line in errors), errors
    committed = server.committed()
    # A worker whose connection died during COMMIT cannot know whether the
    # server committed, and takes another value; so there may be values the
    # workers do not know of, but every value they do know of is there, and
    # none is there twice.
    assert len(committed) == len(set(committed))
    assert set(committed) >= {value for worker in workers for value in worker.taken()}
    if server.implementation.gapless:
        assert committed == list(range(1, len(committed) + 1))
