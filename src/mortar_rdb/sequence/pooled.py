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

It provides :class:`~mortar_rdb.interfaces.IManagedSequence`. Everything it
changes in the database (reserving, ``next_many()``, ``restart()``,
``drop()``) is committed at once on the reservation connection, never in the
caller's transaction: a change left there would keep the row locked, and
this process's next reservation would wait for its own caller.
"""
from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar
from weakref import WeakSet, WeakValueDictionary

from sqlalchemy import Connection, Engine, exc
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from zope.interface import implementer, provider

from ..interfaces import IManagedSequence, IManagedSequenceFactory
from ..sessions import AnySession
from . import generic
from .access import TABLE_BIND, Runner, backend_for
from .errors import (
    BlockReservationBlocked,
    InvalidSequenceValue,
    SequenceConnectionLost,
    SequenceError,
    SharedConnectionPool,
)
from .values import check_count

__all__ = ['DEFAULT_BLOCK_SIZE', 'SequenceImplementation']

T = TypeVar('T')

#: Values reserved per round trip unless ``block_size`` says otherwise; why
#: this number is explained in the docs' "Pooled sequences" page.
DEFAULT_BLOCK_SIZE = 100

# Pools that give every checkout (in a thread) the same connection, so a
# "transaction of its own" would commit the caller's work.
_SHARING_POOLS = (StaticPool, SingletonThreadPool)


@implementer(IManagedSequence)
@provider(IManagedSequenceFactory)
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
        engine = _usable(name, _engine_of(session) if engine is None else engine)
        self.name = name
        self.block_size = block_size
        self._engine = engine
        self._start_afresh()
        self._reserver = reserver_for(engine)
        # Connect before looking at the caller's session, which may take
        # the last connection the pool has.
        self._reserver.connect()
        self._refuse_if_caller_locks_us_out(session, 'register_sequence')
        self._reserver.create_row(name, start)
        _live.add(self)

    def _start_afresh(self) -> None:
        """Forget the current block: the next call reserves a new one."""
        self._lock = threading.Lock()
        self._forget_block()

    def _forget_block(self) -> None:
        self._block = _Block(_counter(1), 0)

    @classmethod
    def drop_storage(cls, name: str, session: AnySession) -> bool:
        """Delete the row of sequence ``name``; return whether there was one.

        Committed at once on the reservation connection of ``session``'s
        engine, whatever becomes of ``session``'s transaction. Processes that
        still hold blocks of ``name`` keep handing them out.
        """
        engine = _usable(name, _engine_of(session))
        _refuse_if_locked_out(name, engine, session, 'drop_storage')
        return reserver_for(engine).drop(name)

    def next(self, session: AnySession | None = None) -> int:
        """The next value of this process's block, reserving a block when it is used up.

        ``session`` is not written to: the value belongs to the caller whether
        its transaction commits or not. On SQLite it is looked at before a
        reservation, to fail fast where that would wait for its own lock.
        """
        # No lock on this path: with many threads, a lock taken for every
        # value turns each reservation's wait into a convoy that outlasts it.
        block = self._block
        value = next(block.values)
        if value <= block.top:
            return value
        return self._next_from_new_block(session)

    def _next_from_new_block(self, session: AnySession | None) -> int:
        """A value from the current block, or from a new one when it is used up.

        One thread reserves while the others wait on the lock; they then
        take their values from the block it reserved.
        """
        with self._lock:
            while True:
                block = self._block
                value = next(block.values)
                if value <= block.top:
                    return value
                self._refuse_if_caller_locks_us_out(session)
                reserved = self._reserver.reserve(self.name, self.block_size, partial=True)
                self._block = _Block(_counter(reserved.start), reserved.stop - 1)

    def next_many(self, session: AnySession, count: int) -> range:
        """``count`` fresh consecutive values, reserved in one round trip.

        They come straight from the ``sequences`` row, as a block does, and
        are committed at once; this process's current block is left as it
        is, so :meth:`next` goes on from where it was.
        """
        check_count(count)
        self._refuse_if_caller_locks_us_out(session, 'next_many')
        ceiling = self._reserver.ceiling()
        if count > ceiling:
            raise InvalidSequenceValue(f'The number of values must be at most {ceiling}, not {count}.')
        return self._reserver.reserve(self.name, count)

    def current(self, session: AnySession) -> int | None:
        """The highest value reserved by anyone (``start - 1`` before the first), or None below 1.

        Read on the reservation connection, so it sees every committed
        reservation. Values still waiting in the blocks of live processes,
        this one's included, are below it: it is a high-water mark, not the
        last value handed out.
        """
        return self._reserver.current(self.name)

    def restart(self, session: AnySession, value: int, force: bool = False) -> None:
        """Make ``value`` the next value; refuse to move backwards without ``force``.

        Checked and changed like a generic sequence, but committed at once on
        the reservation connection. This process forgets its block, so its
        next value is ``value``; other processes hand out the rest of their
        blocks first, so moving backwards with ``force`` can repeat values.
        """
        self._refuse_if_caller_locks_us_out(session, 'restart')
        with self._lock:
            self._reserver.restart(self.name, value, force)
            self._forget_block()

    def drop(self, session: AnySession) -> bool:
        """Delete this sequence's row, committed at once; return whether there was one.

        This process forgets its block; other processes keep theirs.
        """
        self._refuse_if_caller_locks_us_out(session, 'drop')
        with self._lock:
            self._forget_block()
            return self._reserver.drop(self.name)

    def _refuse_if_caller_locks_us_out(self, session: AnySession | None, method: str = 'next') -> None:
        if session is not None:
            _refuse_if_locked_out(self.name, self._engine, session, method)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.name!r} block_size={self.block_size}>'


class _Block(NamedTuple):
    """The values of a reserved block not yet handed out: ``values`` up to ``top``.

    Replaced as a whole, so a thread reading the block sees a counter and
    the top that belong together.
    """

    values: Iterator[int]
    top: int


class _LockedCount:
    """``itertools.count`` with a lock, where there is no GIL to make ``next()`` atomic."""

    def __init__(self, start: int) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __iter__(self) -> _LockedCount:
        return self

    def __next__(self) -> int:
        with self._lock:
            value = self._next
            self._next = value + 1
        return value


def _gil_enabled() -> bool:
    is_enabled = getattr(sys, '_is_gil_enabled', None)
    return True if is_enabled is None else bool(is_enabled())


# Under the GIL one next() on itertools.count is one atomic C call: two
# threads never get the same number from it.
_counter: Callable[[int], Iterator[int]] = itertools.count if _gil_enabled() else _LockedCount


def _engine_of(session: AnySession) -> Engine:
    """The engine of the session's bind for the ``sequences`` table."""
    bind = session.get_bind(**TABLE_BIND)
    return bind.engine if isinstance(bind, Connection) else bind


def _usable(name: str, engine: Engine) -> Engine:
    """``engine``, if it can give a reservation a connection of its own."""
    if isinstance(engine.pool, _SHARING_POOLS):
        raise SharedConnectionPool(name, type(engine.pool).__name__)
    return engine


def _refuse_if_locked_out(name: str, engine: Engine, session: AnySession, method: str) -> None:
    """Raise rather than wait for a lock the caller itself holds (SQLite's one writer)."""
    sql = backend_for(engine).sql
    if not sql.single_writer:
        return
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        return
    connection = session.connection(bind_arguments=TABLE_BIND)
    mine, theirs = engine.url, connection.engine.url
    if (mine.get_backend_name(), mine.database) != (theirs.get_backend_name(), theirs.database):
        return
    if sql.locks_out_other_writers(connection.connection.dbapi_connection):
        raise BlockReservationBlocked(name, method)


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
        self._as_generic(lambda session: generic.SequenceImplementation(name, session, start))  # checks name and start

    def current(self, name: str) -> int | None:
        """What :meth:`generic.SequenceImplementation.current` says of ``name``, read here."""
        return self._as_generic(lambda session: generic.SequenceImplementation.for_existing(name).current(session))

    def restart(self, name: str, value: int, force: bool) -> None:
        """Restart ``name`` as the generic implementation does, committed at once."""
        self._as_generic(
            lambda session: generic.SequenceImplementation.for_existing(name).restart(session, value, force)
        )

    def drop(self, name: str) -> bool:
        """Delete the row of ``name`` as the generic implementation does, committed at once."""
        return self._as_generic(lambda session: generic.SequenceImplementation.drop_storage(name, session))

    def ceiling(self) -> int:
        """The highest value the ``sequences`` table can hold."""
        with self._lock:
            db = self._connection()
            return db.shape().ceiling

    def _as_generic(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` (generic sequence code) in a session on this connection and commit.

        The row is the generic implementation's, so its code does the work.
        A refusal (one of our errors) rolls back and keeps the connection;
        anything else closes it.
        """
        with self._lock:
            db = self._connection()
            try:
                with Session(bind=db.connection) as session:
                    result = work(session)
                    self._commit(db)
                return result
            except SequenceError as error:
                if isinstance(error, SequenceConnectionLost):
                    self._discard()
                raise
            except BaseException:
                self._discard()
                raise

    def reserve(self, name: str, size: int, partial: bool = False) -> range:
        """Reserve the next ``size`` values of sequence ``name`` and commit.

        With ``partial``, fewer values than ``size`` are reserved when that
        is all the column has left, so that every value up to its top is
        handed out before :class:`~mortar_rdb.sequence.errors.SequenceOverflow`.
        """
        with self._lock:
            try:
                return self._increment(name, size, partial)
            except SequenceConnectionLost:
                pass
            except exc.DBAPIError as error:
                if not error.connection_invalidated:
                    raise
            # The connection was lost (a server restart, an idle timeout):
            # try once on a new one. Had the lost reply been a success, a
            # block is skipped, which a pooled sequence allows.
            return self._increment(name, size, partial)

    def _increment(self, name: str, size: int, partial: bool) -> range:
        db = self._connection()
        try:
            ceiling = db.shape().ceiling
            while (top := db.run(db.sql.increment, db.cursor, name, size, ceiling - size)) is None:
                current = db.run(db.sql.current, db.cursor, name) if partial else None
                if current is None or current >= ceiling:
                    raise generic.why_nothing_changed(db, name, ceiling)
                size = min(size, ceiling - current)  # if another process takes them first, look again
            self._commit(db)
        except BaseException:
            self._discard()
            raise
        return range(top - size + 1, top + 1)

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
