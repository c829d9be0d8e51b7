"""A process that uses a sequence, for tests that kill processes.

    python worker.py URL IMPLEMENTATION hold NAME
        take one value in a transaction, print "holding VALUE", then wait
        forever without committing.
    python worker.py URL IMPLEMENTATION loop NAME COUNT [PHASES]
        commit COUNT transactions, each taking a value and writing it to the
        ``taken`` table; print "took VALUE" after each commit. PHASES 1
        commits in one phase, 2 (the default) in two where the server can.
    python worker.py URL IMPLEMENTATION patient NAME
        like loop, but go on until stdin closes, and print errors and try
        again while the server restarts.
    python worker.py URL IMPLEMENTATION prepare NAME
        take one value in a two-phase transaction and write it to the
        ``taken`` table, prepare it, print "prepared VALUE XID", then wait
        forever without committing.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any

import transaction
from known_implementations import BY_ID
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session
from taken_table import taken

from mortar_rdb import get_session, register_session
from mortar_rdb.transactions import mark_written


def hold(url: str, implementation_id: str, name: str) -> None:
    with Session(create_engine(url)) as session:
        value = BY_ID[implementation_id].create(name, session).next(session)
        print('holding', value, flush=True)
        time.sleep(3600)


class Taker:
    """One process's sequence, created on first use in its first transaction."""

    def __init__(self, implementation_id: str, name: str) -> None:
        self.implementation = BY_ID[implementation_id]
        self.name = name
        self.sequence: Any = None

    def take(self, attempts: int) -> int:
        """Commit one transaction that takes a value and stores it in ``taken``."""
        for attempt in transaction.manager.attempts(attempts):
            with attempt:
                session = get_session()
                if self.sequence is None:
                    self.sequence = self.implementation.create(self.name, session)
                value = self.sequence.next(session)
                session.execute(insert(taken).values(name=self.name, value=value))
                mark_written(session)
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


if __name__ == '__main__':
    url, implementation_id, command, *rest = sys.argv[1:]
    {'hold': hold, 'loop': loop, 'patient': patient, 'prepare': prepare}[command](url, implementation_id, *rest)
