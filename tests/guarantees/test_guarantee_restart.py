"""PostgreSQL and MariaDB restarted under a running application: clear errors,
the next transaction recovers, no value twice.

These restart the local servers, which breaks anything else using them at the
time, so they only run with MORTAR_RDB_TEST_RESTARTS=1 (as .ci/run sets).
Every test leaves the servers running.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import transaction
from sqlalchemy import create_engine, make_url, text

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence.errors import SequenceConnectionLost
from tests.guarantees.cases import on_callers_connection, on_own_connection, on_servers

# SQLite has no server to restart.
pytestmark = [pytest.mark.restarts_servers, on_servers]

#: the errors a worker may see while the server restarts, by class name
EXPECTED_ERRORS = ('sqlalchemy.exc.OperationalError', 'mortar_rdb.sequence.errors.SequenceConnectionLost')


# The server under test is the one at the test URL's host and port, and only
# that one: other servers (a Galera cluster's nodes, a second PostgreSQL
# cluster) may run the same program beside it, so nothing here looks a
# server up by its program's name.


class MariaDBServer:
    """The mariadbd at ``url``: found by its port, stopped by its port, its pid
    file telling when it has gone, started again with the command line it ran."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.host = parsed.host or '127.0.0.1'
        self.port = str(parsed.port or 3306)
        self.client = ['--user=root', f'--host={self.host}', f'--port={self.port}']
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                pid_file, datadir = connection.execute(text('SELECT @@pid_file, @@datadir')).one()
        finally:
            engine.dispose()
        self.pid_file = Path(datadir, pid_file)  # a relative pid file is under the data directory
        pid = self.pid()
        assert pid is not None, f'no running mariadbd behind {self.pid_file}'
        self.command = Path(f'/proc/{pid}/cmdline').read_bytes().rstrip(b'\0').split(b'\0')
        self.directory = os.readlink(f'/proc/{pid}/cwd')

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if Path(f'/proc/{pid}').exists() else None

    def is_up(self) -> bool:
        return subprocess.run(['mariadb-admin', *self.client, '--silent', 'ping'], capture_output=True).returncode == 0

    def stop(self) -> None:
        pid = self.pid()
        subprocess.run(['mariadb-admin', *self.client, 'shutdown'], check=True, capture_output=True)
        for _ in range(600):
            if pid is None or not Path(f'/proc/{pid}').exists():
                return
            time.sleep(0.1)
        raise AssertionError(f'the mariadbd on port {self.port} did not stop within 60 s')

    def start(self) -> None:
        # Through a shell that exits at once, so that the server is nobody's
        # child here: a child of the tests would linger as a zombie once
        # stopped, and look alive.
        subprocess.run(
            ['sh', '-c', 'setsid "$@" </dev/null >/dev/null 2>&1 &', 'sh', *self.command],
            cwd=self.directory,
            check=True,
        )


class PostgreSQLServer:
    """The PostgreSQL cluster listening on ``url``'s port, by its version and name."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.port = str(parsed.port or 5432)
        clusters = subprocess.run(['pg_lsclusters', '--no-header'], check=True, capture_output=True, text=True)
        found = [line.split()[:2] for line in clusters.stdout.splitlines() if line.split()[2:3] == [self.port]]
        assert found, f'no PostgreSQL cluster of pg_lsclusters listens on port {self.port}'
        self.cluster = found[0]

    def is_up(self) -> bool:
        return subprocess.run(['pg_isready', '-q', '-h', '127.0.0.1', '-p', self.port]).returncode == 0

    def stop(self) -> None:
        # Waits until the server has gone.
        command = ['pg_ctlcluster', '--skip-systemctl-redirect', *self.cluster, 'stop', '--', '-m', 'fast']
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        command = ['pg_ctlcluster', '--skip-systemctl-redirect', *self.cluster, 'start']
        subprocess.run(command, check=True, capture_output=True)


_servers: dict[str, Any] = {}


def server_at(url: str) -> Any:
    """The server behind ``url``, found once (while it runs) and then kept."""
    if url not in _servers:
        backend = make_url(url).get_backend_name()
        _servers[url] = MariaDBServer(url) if backend == 'mysql' else PostgreSQLServer(url)
    return _servers[url]


def wait_until_up(server: Any) -> None:
    for _ in range(600):
        if server.is_up():
            return
        time.sleep(0.1)
    raise AssertionError(f'the server on port {server.port} did not come back within 60 s')


def start(url: str) -> None:
    server = server_at(url)
    server.start()
    wait_until_up(server)


def restart(url: str) -> None:
    server = server_at(url)
    server.stop()
    start(url)


@pytest.fixture
def server(setup: Any) -> Iterator[Any]:
    server_at(setup.url)  # found while it runs
    try:
        yield setup
    finally:
        if not server_at(setup.url).is_up():
            start(setup.url)


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
    restart(server.url)
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
    restart(server.url)
    for attempt in transaction.manager.attempts(1):
        with attempt:
            values = [sequence.next(get_session()) for _ in range(block)]
    assert values == list(range(2, block + 2))


def test_after_a_restart_pool_pre_ping_replaces_the_dead_connections_unseen(server):
    sequence = registered(server, pool_pre_ping=True)
    restart(server.url)
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
        restart(server.url)
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
