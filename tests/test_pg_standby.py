"""A PostgreSQL primary with a synchronous hot standby: failover under load, and the standby's refusals.

``.ci/pg-standby`` makes the pair (and puts it back after a failover);
``MORTAR_RDB_TEST_PG_PRIMARY`` and ``MORTAR_RDB_TEST_PG_STANDBY`` are its
URLs. Without them the tests skip, except under ``CI=true``, where they fail.

The application reaches the database through a small TCP proxy in the test,
standing for the address a failover moves (a virtual IP, a DNS name, a
connection pooler): the test stops the primary at once (``-m immediate``),
promotes the standby and points the proxy at it, while threads keep taking
values of a generic, a pooled and a native sequence and storing each under a
primary key. A URL listing several hosts would do the moving in libpq
instead; the proxy keeps every worker on one address, as most applications
are, and lets the test choose the moment.
"""
from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, create_engine, exc, make_url
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from mortar_rdb import drop_tables
from mortar_rdb.sequence import native, pooled
from mortar_rdb.sequence.errors import SequenceServerReadOnly
from mortar_rdb.sequence.generic import SequenceImplementation as Generic
from mortar_rdb.sequence.schema import create_table

from .databases import needed

SCRIPT = Path(__file__).resolve().parent.parent / '.ci' / 'pg-standby'
PRIMARY, STANDBY = 'MORTAR_RDB_TEST_PG_PRIMARY', 'MORTAR_RDB_TEST_PG_STANDBY'
IMPLEMENTATIONS = ['generic', 'pooled', 'native']
THREADS_PER_IMPLEMENTATION = 2
SECONDS_BEFORE, SECONDS_AFTER = 3.0, 3.0

taken = Table(
    'taken',
    MetaData(),
    Column('value', BigInteger, primary_key=True),
    Column('impl', String(10), primary_key=True),
)


def pair() -> tuple[str, str]:
    primary, standby = os.environ.get(PRIMARY), os.environ.get(STANDBY)
    if not (primary and standby):
        needed(
            f'{PRIMARY} and {STANDBY} are not set: no PostgreSQL primary and standby (.ci/pg-standby makes them)',
            'CI must set them.',
        )
    return primary, standby


def restore_the_pair() -> None:
    subprocess.run([str(SCRIPT)], check=True, capture_output=True, timeout=180)


class Proxy:
    """Forwards TCP connections to 127.0.0.1:``port``; :meth:`move` sends new ones elsewhere and drops the old."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.address = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(('127.0.0.1', self.port), timeout=2)
            except OSError:
                client.close()  # nothing listens there: the client sees a refused connection
                continue
            server.settimeout(None)
            with self.lock:
                self.open += [client, server]
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, one: socket.socket, other: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([one, other], [], [], 1)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (other if source is one else one).sendall(data)
        except OSError:
            return
        finally:
            one.close()
            other.close()

    def move(self, port: int) -> None:
        self.port = port
        with self.lock:
            for each in self.open:
                try:
                    each.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open = []

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.move(self.port)


@dataclass
class Run:
    """What the workers of one implementation saw."""

    acknowledged: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    failed_attempts: int = 0
    after_failover: int = 0


def worker(engine: Engine, impl: str, sequence: Any, run: Run, stop: threading.Event, moved: threading.Event) -> None:
    while not stop.is_set():
        value = None
        try:
            with Session(engine) as session, session.begin():
                value = sequence.next(session)
                session.execute(taken.insert().values(value=value, impl=impl))
        except exc.IntegrityError:
            run.duplicates.append(value)  # type: ignore[arg-type]
        except Exception:
            run.failed_attempts += 1
            time.sleep(0.05)
        else:
            run.acknowledged.append(value)  # type: ignore[arg-type]
            if moved.is_set():
                run.after_failover += 1


@pytest.fixture(scope='module')
def failover() -> Iterator[tuple[dict[str, Run], str]]:
    """Take values through the proxy, fail over halfway, and return what each implementation saw."""
    primary, standby = pair()
    restore_the_pair()
    setup = create_engine(primary)
    drop_tables(setup)
    create_table(setup)
    taken.create(setup)
    setup.dispose()
    primary_port, standby_port = make_url(primary).port, make_url(standby).port
    assert primary_port and standby_port
    proxy = Proxy(primary_port)
    through = make_url(primary).set(port=proxy.address)
    engine = create_engine(through, pool_pre_ping=True, pool_size=10, connect_args={'connect_timeout': 2})
    with Session(engine) as session, session.begin():
        # One name each: the pooled registration commits on a connection of
        # its own, which would wait for this transaction's new generic row.
        sequences = {
            'generic': Generic('generic', session),
            'pooled': pooled.SequenceImplementation('pooled', session, block_size=10),
            'native': native.SequenceImplementation('native', session),
        }
    runs = {impl: Run() for impl in IMPLEMENTATIONS}
    stop, moved = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=worker, args=(engine, impl, sequences[impl], runs[impl], stop, moved))
        for impl in IMPLEMENTATIONS
        for _ in range(THREADS_PER_IMPLEMENTATION)
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(SECONDS_BEFORE)
        subprocess.run([str(SCRIPT), 'failover'], check=True, capture_output=True, timeout=120)
        proxy.move(standby_port)
        moved.set()
        time.sleep(SECONDS_AFTER)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        engine.dispose()
        proxy.close()
    try:
        yield runs, standby
    finally:
        restore_the_pair()


def stored(url: str, impl: str) -> set[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sql_select(taken.c.value).where(taken.c.impl == impl)).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize('impl', IMPLEMENTATIONS)
def test_values_were_taken_before_and_after_the_failover(failover: tuple[dict[str, Run], str], impl: str) -> None:
    runs, _ = failover
    run = runs[impl]
    print(
        f'{impl}: {len(run.acknowledged)} acknowledged ({run.after_failover} after the failover), '
        f'{run.failed_attempts} failed attempts, {len(run.duplicates)} duplicates'
    )
    assert len(run.acknowledged) > run.after_failover > 0


@pytest.mark.parametrize('impl', IMPLEMENTATIONS)
def test_no_value_is_handed_out_twice_across_a_failover(failover: tuple[dict[str, Run], str], impl: str) -> None:
    runs, _ = failover
    run = runs[impl]
    assert run.duplicates == []
    assert len(set(run.acknowledged)) == len(run.acknowledged)


@pytest.mark.parametrize('impl', IMPLEMENTATIONS)
def test_nothing_acknowledged_is_lost_in_a_failover(failover: tuple[dict[str, Run], str], impl: str) -> None:
    runs, promoted = failover
    assert set(runs[impl].acknowledged) <= stored(promoted, impl)


def test_a_generic_sequence_stays_gapless_across_a_failover(failover: tuple[dict[str, Run], str]) -> None:
    runs, promoted = failover
    values = stored(promoted, 'generic')
    assert values == set(range(1, len(values) + 1))


# The standby refuses, in our words -------------------------------------------


@pytest.fixture
def on_standby() -> Iterator[Engine]:
    """An engine on the standby, whose primary holds the sequences table and sequences 'invoices'."""
    primary, standby = pair()
    restore_the_pair()
    setup = create_engine(primary)
    drop_tables(setup)
    create_table(setup)
    with Session(setup) as session, session.begin():
        Generic('invoices', session)
        native.SequenceImplementation('invoices', session)
    setup.dispose()
    engine = create_engine(standby)  # the primary applies each commit on the standby before it returns
    yield engine
    engine.dispose()


@pytest.mark.parametrize('impl', ['generic', 'native'])
def test_next_on_the_standby_says_values_are_taken_on_the_primary(on_standby: Engine, impl: str) -> None:
    sequence = (Generic if impl == 'generic' else native.SequenceImplementation).for_existing('invoices')
    with Session(on_standby) as session, pytest.raises(SequenceServerReadOnly, match='on the primary'):
        sequence.next(session)


def test_a_pooled_reservation_on_the_standby_is_refused(on_standby: Engine) -> None:
    with Session(on_standby) as session, pytest.raises(SequenceServerReadOnly):
        pooled.SequenceImplementation('invoices', session).next(session)


def test_creating_a_native_sequence_on_the_standby_is_refused(on_standby: Engine) -> None:
    with Session(on_standby) as session, pytest.raises(SequenceServerReadOnly):
        native.SequenceImplementation('new', session)


def test_current_reads_on_the_standby(on_standby: Engine) -> None:
    with Session(on_standby) as session:
        assert Generic.for_existing('invoices').current(session) is None
