"""Application threads taking sequence values on every node of a Galera cluster.

Shared by tests/clusters/test_galera.py (correctness, with a node killed and
rejoined mid-run) and benchmarks/galera.py (throughput). Each thread runs
transactions through :mod:`transaction` on the session of its node: take one
value, store it in ``galera_taken`` under a primary key, commit; what failed
after every attempt is counted, not hidden.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import transaction
from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, Table, create_engine, select, text
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from zope.sqlalchemy import register as join_transaction
from zope.sqlalchemy.datamanager import STATUS_CHANGED

from mortar_rdb import drop_tables
from mortar_rdb.registry import isolated
from mortar_rdb.sequence import generic, native, pooled, register_sequence
from mortar_rdb.sequence._table import sequences
from mortar_rdb.twophase import TwoPhaseWhereSupportedSession

REPOSITORY = Path(__file__).resolve().parents[2]

metadata = MetaData()
taken = Table(
    'galera_taken',
    metadata,
    Column('value', BigInteger, primary_key=True, autoincrement=False),
    Column('node', Integer, nullable=False),
)

IMPLEMENTATIONS: dict[str, tuple[Any, dict[str, Any]]] = {
    'generic': (generic.SequenceImplementation, {}),
    'pooled': (pooled.SequenceImplementation, {}),
    'native': (native.SequenceImplementation, {}),
}

NAME = 'galera_load'
#: How often :mod:`transaction` runs a transaction that keeps failing.
ATTEMPTS = 20


@dataclass
class Outcome:
    """What one run did."""

    seconds: float
    committed: int = 0
    #: transactions that still failed after ATTEMPTS, by error type
    failed: Counter[str] = field(default_factory=Counter)
    #: attempts that failed and were run again, by error type
    retried: Counter[str] = field(default_factory=Counter)
    values: list[int] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.committed / self.seconds


def engines(urls: list[str]) -> list[Engine]:
    return [create_engine(url, pool_size=10, pool_pre_ping=True) for url in urls]


def prepare(urls: list[str], implementation: str) -> None:
    """Empty the cluster's database and create what ``implementation`` needs (on the first node)."""
    engine = create_engine(urls[0])
    try:
        drop_tables(engine)
        taken.create(engine)
        sequences.create(engine)
    finally:
        engine.dispose()


def stored(url: str) -> list[tuple[int, int]]:
    """Every (value, node) row committed, read on the node at ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [(int(value), int(node)) for value, node in connection.execute(select(taken.c.value, taken.c.node))]
    finally:
        engine.dispose()


def session_factory(engine: Engine, sequence_engine: Engine | None = None) -> scoped_session[Session]:
    """A transactional scoped session on ``engine``; with ``sequence_engine``, the
    ``sequences`` table is routed there (``binds=``)."""
    if sequence_engine is None:
        factory = sessionmaker(bind=engine, class_=TwoPhaseWhereSupportedSession, twophase=True)
    else:
        factory = sessionmaker(
            binds={taken: engine, sequences: sequence_engine}, class_=TwoPhaseWhereSupportedSession, twophase=True
        )
    scoped: scoped_session[Session] = scoped_session(factory)  # type: ignore[arg-type]
    join_transaction(scoped, initial_state=STATUS_CHANGED)
    return scoped


def run(
    urls: list[str],
    implementation: str,
    seconds: float,
    threads_per_node: int = 3,
    routed: bool = False,
    during: Callable[[], None] | None = None,
) -> Outcome:
    """Take values for ``seconds`` from every node; ``during`` runs in the main thread meanwhile.

    ``routed`` sends the ``sequences`` table of every session to the first
    node. The sequence is registered (created) on the first node.
    """
    impl, options = IMPLEMENTATIONS[implementation]
    nodes = engines(urls)
    outcome = Outcome(seconds)
    lock = threading.Lock()
    stop = threading.Event()
    try:
        with isolated():
            sessions = [session_factory(engine, nodes[0] if routed else None) for engine in nodes]
            with transaction.manager:
                sequence = register_sequence(NAME, sessions[0], impl=impl, **options)

            def work(node: int) -> None:
                session = sessions[node]
                while not stop.is_set():
                    value = _one_transaction(session, sequence, node, outcome, lock)
                    if value is None:
                        time.sleep(0.05)  # the node is down: wait for it
                _quietly(session.remove)

            threads = [
                threading.Thread(target=work, args=(node,), daemon=True)
                for node in range(len(nodes))
                for _ in range(threads_per_node)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            if during is not None:
                during()
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
            stop.set()
            for thread in threads:
                thread.join(60)
            outcome.seconds = time.monotonic() - started
    finally:
        for engine in nodes:
            engine.dispose()
    return outcome


def _one_transaction(
    session: scoped_session[Session], sequence: Any, node: int, outcome: Outcome, lock: threading.Lock
) -> int | None:
    """One transaction, run up to ATTEMPTS times while its error is retryable; the value committed."""
    manager = transaction.manager
    for attempt in range(1, ATTEMPTS + 1):
        try:
            manager.begin()
            value = sequence.next(session)
            session.execute(taken.insert().values(value=value, node=node))
            manager.commit()
        except Exception as error:
            # As transaction.manager.attempts() decides, before the abort
            # forgets the data managers it asks.
            retryable = manager.manager._retryable(type(error), error)
            _quietly(manager.abort)
            name = type(error).__name__ + _code(error)
            with lock:
                if retryable and attempt < ATTEMPTS:
                    outcome.retried[name] += 1
                else:
                    outcome.failed[name] += 1
            if not retryable:
                _quietly(session.remove)
                return None
        else:
            with lock:
                outcome.committed += 1
                outcome.values.append(value)
            return value
    return None


def _quietly(end: Callable[[], object]) -> None:
    """Run ``end`` (an abort, a session's close), ignoring that a dead node cannot answer it."""
    try:
        end()
    except Exception:  # the node is down or rejoining: the connection is dropped either way
        pass


def _code(error: BaseException) -> str:
    orig = getattr(error, 'orig', None)
    arguments = getattr(orig, 'args', None)
    return f' {arguments[0]}' if arguments else ''


# Killing and restarting a node ---------------------------------------------


def pid_file(url: str) -> str:
    """The pid file of the node at ``url``, as the server itself says."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text('SELECT @@pid_file')).scalar_one())
    finally:
        engine.dispose()


def kill_node(pid_path: str) -> int:
    """SIGKILL the server whose pid file is ``pid_path``; its pid."""
    pid = int(Path(pid_path).read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    return pid


def start_cluster() -> str:
    """Start whatever node of the cluster is down, as CI does; the URLs it prints."""
    command = os.environ.get('MORTAR_RDB_TEST_GALERA_START') or f'bash {REPOSITORY / ".ci" / "galera"}'
    done = subprocess.run(command, shell=True, check=True, capture_output=True, text=True, timeout=600)
    return done.stdout.strip()
