"""Processes that use a sequence, for the tests that need more than one process.

Every test starts them the one way, :func:`start` (or :func:`race`, which
starts racers together), running this module in a fresh interpreter::

    python -m tests.workers URL IMPLEMENTATION COMMAND NAME [ARGUMENTS]

IMPLEMENTATION is an ``id`` from tests/implementations.py. The commands:

``hold NAME``
    take one value in a transaction, print "holding VALUE", then wait
    forever without committing.
``loop NAME COUNT [PHASES]``
    commit COUNT transactions, each taking a value and writing it to the
    ``taken`` table; print "took VALUE" after each commit. PHASES 1 commits
    in one phase, 2 (the default) in two where the server can.
``patient NAME``
    like loop, but go on until stdin closes, and print errors and try again
    while the server restarts.
``prepare NAME``
    take one value in a two-phase transaction and write it to the ``taken``
    table, prepare it, print "prepared VALUE XID", then wait forever without
    committing.
``race NAME COUNT ROLLBACK_SHARE SEED``
    print "ready" and wait for a line on stdin (so that all the racers start
    together); register NAME, then run COUNT transactions, each taking a
    value and writing it to ``taken``, a ROLLBACK_SHARE of them rolled back on
    purpose: print "took VALUE" after a commit, "gave VALUE" after a rollback.

``irace NAME COUNT ROLLBACK_SHARE SEED``
    like race, but each transaction inserts its row into ``taken`` with no
    value: the column's ``sequence_value(NAME)`` default numbers it at the
    INSERT.

``arace NAME COUNT ROLLBACK_SHARE SEED TASKS``
    like race, through the async face (mortar_rdb.sequence.asyncio) and the
    database's async driver: TASKS concurrent tasks in one event loop, each
    running COUNT transactions in an ``AsyncSession``.

Each committed value is a row in ``taken``, whose primary key (name, value)
makes a duplicate fail loudly in the worker that commits it.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import transaction
from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, insert
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import sequence_value
from tests.implementations import BY_ID

ROOT = Path(__file__).resolve().parent.parent

taken_metadata = MetaData()
#: One row per committed value, written by the transaction that took it.
taken = Table(
    'taken',
    taken_metadata,
    Column('name', String(255), primary_key=True),
    Column('value', BigInteger, primary_key=True, autoincrement=False),
)



def numbered_taken(name: str) -> Table:
    """The ``taken`` table, its ``value`` numbered by sequence ``name`` as rows are inserted."""
    return Table(
        'taken',
        MetaData(),
        Column('name', String(255), primary_key=True),
        Column('value', BigInteger, primary_key=True, autoincrement=False, default=sequence_value(name)),
    )


# The parent's side ------------------------------------------------------------


class Worker:
    """A worker process, whose output is read as it comes (so it never stops
    on a full pipe) and kept in :attr:`lines`."""

    def __init__(self, url: str, implementation_id: str, command: str, name: str, *arguments: object) -> None:
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'tests.workers', url, implementation_id, command, name, *map(str, arguments)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._read_so_far = 0
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new_line:
                self.lines.append(line.rstrip('\n'))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    def wait_for(self, prefix: str, timeout: float = 120) -> list[str]:
        """The words of the worker's next line, which must start with ``prefix``."""
        deadline = time.monotonic() + timeout
        with self._new_line:
            while len(self.lines) <= self._read_so_far:
                ended = not self._reader.is_alive()
                assert not ended, f'the worker ended without saying {prefix!r}: {self.lines[-5:]}'
                assert time.monotonic() < deadline, f'the worker has not said {prefix!r}: {self.lines[-5:]}'
                self._new_line.wait(0.1)
            line = self.lines[self._read_so_far]
            self._read_so_far += 1
        assert line.startswith(prefix), f'the worker said {line!r}, not {prefix!r}; exit code {self.process.poll()}'
        return line.split()

    def values(self, prefix: str = 'took') -> list[int]:
        """The values of the lines starting with ``prefix`` so far, in order."""
        return [int(line.split()[1]) for line in list(self.lines) if line.split()[:1] == [prefix]]

    def taken(self) -> list[int]:
        """The values this worker has committed so far, in order."""
        return self.values('took')

    def handed_out(self) -> list[int]:
        """Every value this worker was given, committed or rolled back, in order."""
        return [int(line.split()[1]) for line in list(self.lines) if line.split()[:1] in (['took'], ['gave'])]

    def wait_until(self, done: Callable[[list[int]], bool], what: str) -> None:
        """Wait until ``done(self.taken())``; ``what`` says what for, in the failure."""
        deadline = time.monotonic() + 120
        while not done(self.taken()):
            assert self.process.poll() is None, f'the worker ended before it {what}: {self.lines[-5:]}'
            assert time.monotonic() < deadline, f'the worker has not {what} within 120 s: {self.lines[-5:]}'
            time.sleep(0.05)

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + '\n')
        self.process.stdin.flush()

    def stop(self) -> int:
        """Close stdin, wait for the worker to end, and return its exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        returncode = self.process.wait(timeout=300)
        self._reader.join(timeout=10)
        return returncode

    def finish(self) -> None:
        """Wait for the worker to end, and fail unless it succeeded."""
        assert self.stop() == 0, f'a worker failed: {self.lines[-5:]}'

    def kill(self) -> None:
        """End the worker at once (SIGKILL), as a crash would."""
        self.process.kill()
        self.process.wait(30)
        if self.process.stdin is not None:
            self.process.stdin.close()


def start(url: str, implementation_id: str, command: str, name: str, *arguments: object) -> Worker:
    """Start one worker process running ``command``."""
    return Worker(url, implementation_id, command, name, *arguments)


def race(
    url: str,
    implementation_ids: list[str],
    name: str,
    count: int,
    rollback_share: float = 0.2,
    tasks: int | None = None,
    on_insert: bool = False,
) -> list[Worker]:
    """One racing worker per implementation id, started together; returns them once all have finished.

    With ``tasks``, each worker is an async one (``arace``) running that many
    tasks; with ``on_insert``, each numbers its rows at the INSERT (``irace``).
    """
    command, extra = ('race', ()) if tasks is None else ('arace', (tasks,))
    if on_insert:
        command = 'irace'
    workers = [
        start(url, implementation_id, command, name, count, rollback_share, seed, *extra)
        for seed, implementation_id in enumerate(implementation_ids)
    ]
    for worker in workers:
        worker.wait_for('ready', timeout=300)
    for worker in workers:
        worker.tell('go')
    for worker in workers:
        worker.finish()
    return workers


# The worker's side ------------------------------------------------------------


def hold(url: str, implementation_id: str, name: str) -> None:
    with Session(create_engine(url)) as session:
        value = BY_ID[implementation_id].create(name, session).next(session)
        print('holding', value, flush=True)
        time.sleep(3600)


class RollBack(Exception):
    """Raised to roll a transaction back on purpose."""


class Taker:
    """One process's sequence, created on first use in its first transaction."""

    def __init__(self, implementation_id: str, name: str, on_insert: bool = False) -> None:
        self.implementation = BY_ID[implementation_id]
        self.name = name
        self.sequence: Any = None
        #: the table whose INSERT numbers the row, when the value is taken that way
        self.numbered = numbered_taken(name) if on_insert else None

    def take(self, attempts: int, roll_back: bool = False) -> int:
        """Commit one transaction that takes a value and stores it in ``taken``.

        With ``roll_back``, the transaction is rolled back instead, and
        :class:`RollBack` says which value it had.
        """
        for attempt in transaction.manager.attempts(attempts):
            with attempt:
                session = get_session()
                if self.numbered is not None:
                    result = session.execute(insert(self.numbered).values(name=self.name))
                    value = result.last_inserted_params()['value']  # type: ignore[attr-defined]
                else:
                    if self.sequence is None:
                        self.sequence = self.implementation.create(self.name, session)
                    value = self.sequence.next(session)
                    session.execute(insert(taken).values(name=self.name, value=value))
                mark_changed(session)
                if roll_back:
                    raise RollBack(value)
        return value


def loop(url: str, implementation_id: str, name: str, count: str, phases: str = '2') -> None:
    register_session(url, twophase=phases == '2')
    taker = Taker(implementation_id, name)
    for _ in range(int(count)):
        print('took', taker.take(100), flush=True)


def patient(url: str, implementation_id: str, name: str) -> None:
    """Like loop, but rides out a database that goes away for a while, and
    goes on until its stdin closes, so that it is running whenever the test
    restarts the server, however long that takes.

    Errors that the transaction package does not retry (the server refusing
    connections while it restarts, a connection lost during commit) are
    printed as "error CLASS: MESSAGE" and the transaction is tried again.
    Two-phase commit is off: a MariaDB restart between XA PREPARE and XA
    COMMIT would leave the sequence locked (see test_guarantee_crash.py).
    """
    register_session(url, twophase=False)
    taker = Taker(implementation_id, name)
    told_to_stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), told_to_stop.set()), daemon=True).start()
    while not told_to_stop.is_set():
        for _ in range(600):
            try:
                value = taker.take(5)
            except Exception as error:  # noqa: BLE001 - reported, then retried
                kind = type(error)
                first_line = (str(error).splitlines() or [''])[0]
                print(f'error {kind.__module__}.{kind.__qualname__}: {first_line}', flush=True)
                time.sleep(0.2)
            else:
                print('took', value, flush=True)
                break
        else:
            raise SystemExit('the database did not come back within 600 attempts')


def prepare(url: str, implementation_id: str, name: str) -> None:
    with Session(create_engine(url), twophase=True) as session:
        session.begin()
        value = BY_ID[implementation_id].create(name, session).next(session)
        session.execute(insert(taken).values(name=name, value=value))
        session.get_transaction().prepare()
        xid = session.get_transaction()._connections[session.get_bind()][1].xid
        print('prepared', value, xid, flush=True)
        time.sleep(3600)


def racer(
    url: str, implementation_id: str, name: str, count: str, rollback_share: str, seed: str, on_insert: bool = False
) -> None:
    register_session(url)
    print('ready', flush=True)
    sys.stdin.readline()
    with transaction.manager:
        BY_ID[implementation_id].register(name, get_session())
    taker = Taker(implementation_id, name, on_insert)
    chance = random.Random(int(seed))
    for _ in range(int(count)):
        try:
            value = taker.take(100, roll_back=chance.random() < float(rollback_share))
        except RollBack as rolled_back:
            print('gave', rolled_back.args[0], flush=True)
        else:
            print('took', value, flush=True)
    get_session().close()
    get_session().bind.dispose()


def async_racer(
    url: str, implementation_id: str, name: str, count: str, rollback_share: str, seed: str, tasks: str
) -> None:
    asyncio.run(_async_race(url, implementation_id, name, int(count), float(rollback_share), int(seed), int(tasks)))


async def _async_race(
    url: str, implementation_id: str, name: str, count: int, rollback_share: float, seed: int, tasks: int
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from mortar_rdb.sequence.asyncio import register_sequence
    from mortar_rdb.sequence.errors import SequenceRetryable
    from tests.databases import async_url

    implementation = BY_ID[implementation_id]
    engine = create_async_engine(async_url(url))
    print('ready', flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    async with AsyncSession(engine) as session, session.begin():
        sequence = await register_sequence(name, session, impl=implementation.impl, **implementation.options)
    chance = random.Random(seed)

    async def transaction_(roll_back: bool) -> None:
        for _ in range(100):  # what transaction.manager.attempts() does for the sync workers
            try:
                async with AsyncSession(engine) as session, session.begin():
                    value = await sequence.next(session)
                    await session.execute(insert(taken).values(name=name, value=value))
                    if roll_back:
                        await session.rollback()
                        print('gave', value, flush=True)
                        return
            except SequenceRetryable:
                continue
            print('took', value, flush=True)
            return
        raise SystemExit('100 attempts failed')

    async def task(plan: list[bool]) -> None:
        for roll_back in plan:
            await transaction_(roll_back)

    plans = [[chance.random() < rollback_share for _ in range(count)] for _ in range(tasks)]
    await asyncio.gather(*(task(plan) for plan in plans))
    await engine.dispose()


def insert_racer(url: str, implementation_id: str, name: str, count: str, rollback_share: str, seed: str) -> None:
    racer(url, implementation_id, name, count, rollback_share, seed, on_insert=True)


COMMANDS = {
    'hold': hold,
    'loop': loop,
    'patient': patient,
    'prepare': prepare,
    'race': racer,
    'irace': insert_racer,
    'arace': async_racer,
}

if __name__ == '__main__':
    url, implementation_id, command, *rest = sys.argv[1:]
    COMMANDS[command](url, implementation_id, *rest)
