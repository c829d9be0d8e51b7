"""Unique, fast values: blocks reserved from the ``sequences`` table.

Each process reserves a block of ``block_size`` values at a time, in a short
transaction of its own on a connection of its own (one per engine, detached
from the engine's pool), and hands the values out from memory. The stored value of the row is the top of the last block
reserved, so pooled users in any number of processes, and gapless users of
:mod:`~mortar_rdb.sequence.generic` sharing the same name, never receive the
same value.

What this buys, and what it costs:

- unique across threads, processes and machines sharing the database;
- not gapless: a caller's rollback does not give its value back, and the
  values left in a block are lost when the process ends;
- ordered within one process only: two processes interleave their blocks.
"""
from __future__ import annotations

import os
import threading
from weakref import WeakSet, WeakValueDictionary

from sqlalchemy import Connection, Engine, exc
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from zope.interface import implementer

from ..interfaces import ISequence
from ..sessions import AnySession
from . import generic
from .access import Runner, backend_for
from .errors import BlockReservationBlocked, SharedConnectionPool

__all__ = ['DEFAULT_BLOCK_SIZE', 'SequenceImplementation']

#: Values reserved per round trip unless ``block_size`` says otherwise; why
#: this number is explained in the docs' "Pooled sequences" page.
DEFAULT_BLOCK_SIZE = 100

# Pools that give every checkout (in a thread) the same connection, so a
# "transaction of its own" would commit the caller's work.
_SHARING_POOLS = (StaticPool, SingletonThreadPool)


@implementer(ISequence)
class SequenceImplementation:
    """A sequence that hands out values from blocks reserved ahead of time.

    :param name: the sequence's row in the ``sequences`` table.
    :param session: the session whose engine reserves blocks, unless
        ``engine`` is given. Registration creates the row if it is missing
        and commits it at once, in a transaction of its own.
    :param block_size: values reserved per round trip to the database. ``1``
        makes an "autonomous" sequence: one round trip per value, and no row
        lock kept for the caller's transaction.
    :param engine: reserve blocks on this engine instead, for instance one on
        another SQLite file so that reserving never waits for the caller's
        own writes.
    :param start: the first value of a sequence whose row is created now;
        an existing row keeps its value.
    """

    def __init__(
        self,
        name: str,
        session: AnySession,
        block_size: int = DEFAULT_BLOCK_SIZE,
        engine: Engine | None = None,
        start: int = 1,
    ) -> None:
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f'block_size must be a positive int, not {block_size!r}.')
        if engine is None:
            bind = session.get_bind()
            engine = bind.engine if isinstance(bind, Connection) else bind
        if isinstance(engine.pool, _SHARING_POOLS):
            raise SharedConnectionPool(name, type(engine.pool).__name__)
        self.name = name
        self.block_size = block_size
        self._engine = engine
        self._start_afresh()
        self._reserver = reserver_for(engine)
        # Connect before looking at the caller's session, which may take
        # the last connection the pool has.
        self._reserver.connect()
        self._refuse_if_caller_locks_us_out(session)
        self._reserver.create_row(name, start)
        _live.add(self)

    def _start_afresh(self) -> None:
        """Forget the current block: the next call reserves a new one."""
        self._lock = threading.Lock()
        self._next = 1
        self._top = 0

    def next(self, session: AnySession | None = None) -> int:
        """The next value of this process's block, reserving a block when it is used up.

        ``session`` is not written to: the value belongs to the caller whether
        its transaction commits or not. On SQLite it is looked at before a
        reservation, to fail fast where that would wait for its own lock.
        """
        with self._lock:
            value = self._next
            if value > self._top:
                value = self._reserve(session)
            self._next = value + 1
        return value

    def _reserve(self, session: AnySession | None) -> int:
        """Reserve the next block in a transaction of its own; return its first value."""
        if session is not None:
            self._refuse_if_caller_locks_us_out(session)
        top = self._reserver.reserve(self.name, self.block_size)
        self._top = top
        return top - self.block_size + 1

    def _refuse_if_caller_locks_us_out(self, session: AnySession) -> None:
        """Raise rather than wait for a lock the caller itself holds (SQLite's one writer)."""
        sql = backend_for(self._engine).sql
        if not sql.single_writer:
            return
        if isinstance(session, scoped_session):
            session = session()
        if not session.in_transaction():
            return
        connection = session.connection()
        mine, theirs = self._engine.url, connection.engine.url
        if (mine.get_backend_name(), mine.database) != (theirs.get_backend_name(), theirs.database):
            return
        if sql.locks_out_other_writers(connection.connection.dbapi_connection):
            raise BlockReservationBlocked(self.name)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.name!r} block_size={self.block_size}>'


class Reserver:
    """The connection of its own on which the pooled sequences of one engine reserve blocks.

    It is taken from the engine once and detached from its pool, so a
    reservation never waits for a pool that the callers' own sessions have
    used up. Where the increment is one statement the connection runs in
    autocommit mode: a reservation is one round trip, committed at once.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._db: Runner | None = None

    def connect(self) -> None:
        """Take the connection of its own now, if it has none."""
        with self._lock:
            self._connection()

    def create_row(self, name: str, start: int) -> None:
        """Add the row of sequence ``name``, whose first value is ``start``,
        unless it exists; committed at once."""
        with self._lock:
            db = self._connection()
            try:
                with Session(bind=db.connection) as session:
                    generic.SequenceImplementation(name, session, start)  # checks name and start
                    self._commit(db)
            except BaseException:
                self._discard()
                raise

    def reserve(self, name: str, size: int) -> int:
        """Add ``size`` to sequence ``name`` and commit; return the new stored value."""
        with self._lock:
            try:
                return self._increment(name, size)
            except exc.DBAPIError as error:
                if not error.connection_invalidated:
                    raise
            # The connection was lost (a server restart, an idle timeout):
            # try once on a new one. Had the lost reply been a success, a
            # block is skipped, which a pooled sequence allows.
            return self._increment(name, size)

    def _increment(self, name: str, size: int) -> int:
        db = self._connection()
        try:
            ceiling = db.shape().ceiling
            top = db.run(db.sql.increment, db.cursor, name, size, ceiling - size)
            if top is None:
                raise generic.why_nothing_changed(db, name, ceiling)
            self._commit(db)
        except BaseException:
            self._discard()
            raise
        return top

    def _connection(self) -> Runner:
        if self._db is None:
            connection = self.engine.connect()
            if backend_for(self.engine).sql.increments_in_one_statement:
                connection.execution_options(isolation_level='AUTOCOMMIT')
            connection.detach()
            self._db = Runner(connection)
        return self._db

    @staticmethod
    def _commit(db: Runner) -> None:
        if not db.sql.increments_in_one_statement:
            db.run(db.connection.connection.commit)

    def _discard(self) -> None:
        """Close the connection after a failure; the next reservation opens another."""
        db, self._db = self._db, None
        if db is not None:
            try:
                db.connection.invalidate()
            except Exception:  # closing a broken connection may fail too; it is gone either way
                pass

    def _after_fork_in_child(self) -> None:
        # Closing the inherited connection would end the parent's session on
        # the server, so it is kept, unused, for the life of the child.
        if self._db is not None:
            _inherited.append(self._db)
        self._db = None
        self._lock = threading.Lock()


# Keyed by id(engine): a reserver holds its engine, so the id stays valid for
# as long as the entry exists, and the entry goes (closing the connection)
# when the last sequence using it does.
_reservers: WeakValueDictionary[int, Reserver] = WeakValueDictionary()
_reservers_lock = threading.Lock()


def reserver_for(engine: Engine) -> Reserver:
    """The one :class:`Reserver` of ``engine`` in this process."""
    with _reservers_lock:
        reserver = _reservers.get(id(engine))
        if reserver is None:
            reserver = _reservers[id(engine)] = Reserver(engine)
        return reserver


# Every pooled sequence of this process, so that a forked child can drop
# what it inherited.
_live: WeakSet[SequenceImplementation] = WeakSet()
# Connections a forked child inherited: never used, never closed.
_inherited: list[Runner] = []


def _after_fork_in_child() -> None:
    """A child must not hand out its parent's values nor talk on its parent's connections.

    Locks are replaced too: another thread of the parent may have held one
    at the moment of the fork. Disposing with ``close=False`` leaves the
    parent's pooled connections alone and gives the child a fresh pool, as
    SQLAlchemy recommends for every engine used across a fork.
    """
    for sequence in list(_live):
        sequence._start_afresh()
    for reserver in list(_reservers.values()):
        reserver._after_fork_in_child()
        reserver.engine.dispose(close=False)


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)
