"""Pooled sequences' own connection, its whole life: reserving, locks, event loops and forks.

One :class:`Reserver` per engine and process holds a connection taken from
the engine once and detached from its pool, so a reservation never waits
for a pool that the callers' own sessions have used up. It works on the
``sequences`` row with the same named operations as every other sequence
(:class:`~mortar_rdb.sequence._cursor.ConnectionCursor`) and the generic
implementation's row logic, and commits each change at once.

It has two doors. The sync door is its methods (:meth:`Reserver.reserve`,
:meth:`Reserver.restart`, ...), one thread at a time. The async door,
:meth:`Reserver.awaited`, runs sync work that uses them one task at a time
per event loop, so that waiting tasks never block the loop. An async
driver's connection belongs to the loop it was opened on: it is closed on
that loop as the loop shuts down, and a new loop opens another. A forked
child drops what it inherited: the connection, the locks, and the blocks
of the pooled sequences (:mod:`._blocks`).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar
from weakref import WeakSet, WeakValueDictionary

from sqlalchemy import Engine, exc
from sqlalchemy.orm import scoped_session

from .._binds import engine_of
from ..sessions import AnySession
from . import generic
from ._blocks import Blocks
from ._cursor import ConnectionCursor
from ._dialects import Meaning
from ._per_engine import per_engine
from ._sessions import TABLE_BIND
from .errors import BlockReservationBlocked, SequenceConflict, SequenceConnectionLost, SequenceError

if TYPE_CHECKING:
    import asyncio

__all__ = ['Reserver', 'caller_locks_out', 'forget_blocks_after_fork', 'refuse_if_caller_locks_out', 'reserver_for']

T = TypeVar('T')

#: How many times a reservation is tried when other connections keep winning
#: the row (deadlocks, Galera certification failures). A lock wait that timed
#: out is not tried again: it already waited.
CONFLICT_ATTEMPTS = 10


class Reserver:
    """The connection of its own on which the pooled sequences of one engine reserve blocks.

    Where the increment is one statement the connection runs in autocommit
    mode: a reservation is one round trip, committed at once. A refusal (one
    of our errors) keeps the connection; anything else closes it, and the
    next use opens another.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._cursor: ConnectionCursor | None = None
        # The event loop whose tasks use this reserver, and their lock.
        self._loop: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    # The async door ------------------------------------------------------------

    async def awaited(self, work: Callable[[], T]) -> T:
        """Await ``work()``, sync code using this reserver, one task at a time.

        It runs in a greenlet whose driver calls await on the event loop, as
        ``AsyncSession.run_sync`` runs sync code. Other tasks wait on an
        :class:`asyncio.Lock`, and may be cancelled while they wait. Once
        started, ``work`` is shielded from cancellation: a caller that is
        cancelled then (a request's timeout) stops waiting, but the statement
        runs to the end on the connection and the lock is held until it has.
        Cut short, it could leave the statement half-read (on SQLite, holding
        the database's write lock) and would cost the connection; completed,
        a pooled sequence keeps the block it reserved.
        """
        import asyncio

        from sqlalchemy.util import greenlet_spawn

        lock = self._turn()
        await lock.acquire()
        try:
            running = asyncio.ensure_future(greenlet_spawn(work))
        except BaseException:
            lock.release()
            raise
        running.add_done_callback(lambda _: lock.release())
        return await asyncio.shield(running)

    def _turn(self) -> asyncio.Lock:
        """The running loop's lock; a loop that is not the last one's drops its connection first."""
        import asyncio

        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop[0] is not loop:
            self.abandon()
        return self._for_loop(loop)

    def _for_loop(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        import asyncio

        if self._loop is None or self._loop[0] is not loop:
            self._loop = (loop, asyncio.Lock())
            closer = loop.create_task(self._close_at_shutdown())
            _closers.add(closer)
            closer.add_done_callback(_closers.discard)
        return self._loop[1]

    async def _close_at_shutdown(self) -> None:
        """Keep this reserver until the loop shuts down, then close its connection on it.

        ``asyncio.run()`` cancels the tasks still pending as it ends, while
        the loop still runs: the connection is closed there, by its own
        driver, rather than by the garbage collector after the loop has
        closed. Until then the reserver lives on even when no sequence uses
        it, so that its connection is never left to the garbage collector
        either.
        """
        import asyncio

        from sqlalchemy.util import greenlet_spawn

        try:
            await asyncio.Event().wait()
        finally:
            await greenlet_spawn(self.abandon)

    # The sync door -------------------------------------------------------------

    def connect(self) -> None:
        """Take the connection of its own now, if it has none."""
        with self._lock:
            self._connection()

    def create_row(self, name: str, start: int) -> None:
        """Add the row of sequence ``name``, whose first value is ``start``, unless it exists."""
        self._committed(lambda cursor: generic.create_row(cursor, name, start))

    def current(self, name: str) -> int | None:
        """What :meth:`generic.SequenceImplementation.current` says of ``name``, read here."""
        return self._committed(lambda cursor: generic.current_of_row(cursor, name))

    def restart(self, name: str, value: int, force: bool) -> None:
        """Restart ``name`` as the generic implementation does."""
        self._committed(lambda cursor: generic.restart_row(cursor, name, value, force))

    def drop(self, name: str) -> bool:
        """Delete the row of ``name``; whether there was one."""
        return self._committed(lambda cursor: generic.delete_row(cursor, name))

    def ceiling(self) -> int:
        """The highest value the ``sequences`` table can hold."""
        return self._committed(lambda cursor: cursor.shape().ceiling)

    def reserve(self, name: str, size: int, partial: bool = False) -> range:
        """Reserve the next ``size`` values of sequence ``name``.

        With ``partial``, fewer values than ``size`` are reserved when that
        is all the column has left, so that every value up to its top is
        handed out before :class:`~mortar_rdb.sequence.errors.SequenceOverflow`.
        A lost connection is tried once more on a new one: had the lost reply
        been a success, a block is skipped, which a pooled sequence allows.
        A conflict (on a Galera cluster, another node reserving at the same
        moment: a certification failure) changed nothing, and is tried again
        up to :data:`CONFLICT_ATTEMPTS` times in all.
        """
        def work(cursor: ConnectionCursor) -> range:
            return _reserve(cursor, name, size, partial)

        conflicts = 0
        while True:
            try:
                return self._committed(work, keep_after_refusal=False)
            except SequenceConflict as error:
                conflicts += 1
                if conflicts >= CONFLICT_ATTEMPTS or per_engine(self.engine).meaning(error) is not Meaning.CONFLICT:
                    raise
            except SequenceConnectionLost:
                break
            except exc.DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                break
        return self._committed(work, keep_after_refusal=False)

    def _committed(self, work: Callable[[ConnectionCursor], T], keep_after_refusal: bool = True) -> T:
        """``work(cursor)`` on this connection, committed.

        After one of our errors the connection is kept if
        ``keep_after_refusal`` says so; after anything else it is closed.
        """
        with self._lock:
            cursor = self._connection()
            try:
                result = work(cursor)
                if not cursor.table.increments_in_one_statement:
                    cursor.commit()
                return result
            except SequenceError as error:
                if isinstance(error, SequenceConnectionLost) or not keep_after_refusal:
                    self._discard()
                elif not cursor.table.increments_in_one_statement:
                    self._rollback(cursor)
                raise
            except BaseException:
                self._discard()
                raise

    def _connection(self) -> ConnectionCursor:
        if self._cursor is None:
            connection = self.engine.connect()
            if per_engine(self.engine).table.increments_in_one_statement:
                connection.execution_options(isolation_level='AUTOCOMMIT')
            connection.detach()
            self._cursor = ConnectionCursor(connection)
            if self.engine.dialect.is_async:
                # An async driver's connection must be closed on its own
                # event loop, before that loop ends, whether the async door
                # or the sync API (in ``run_sync``) opened it.
                import asyncio

                self._for_loop(asyncio.get_running_loop())
        return self._cursor

    def _rollback(self, cursor: ConnectionCursor) -> None:
        try:
            cursor.connection.connection.rollback()
        except Exception:
            self._discard()

    def _discard(self) -> None:
        """Close the connection after a failure; the next use opens another."""
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            try:
                dbapi_connection = cursor.connection.connection.dbapi_connection
                cursor.connection.invalidate()
                # Invalidating a detached connection leaves the driver's
                # connection to the garbage collector, which cannot close an
                # async driver's once its event loop has ended: close it now.
                if dbapi_connection is not None:
                    self.engine.dialect.do_terminate(dbapi_connection)
            except Exception:  # closing a broken connection may fail too; it is gone either way
                pass

    def abandon(self) -> None:
        """Close the connection, which belongs to an event loop that is ending or gone.

        An async driver's connection only works on the loop it was opened
        on; the next use, on another loop, opens another.
        """
        with self._lock:
            self._discard()

    def after_fork(self) -> None:
        """In a forked child: drop the parent's connection and locks."""
        # Closing the inherited connection would end the parent's session on
        # the server, so it is kept, unused, for the life of the child.
        if self._cursor is not None:
            _inherited.append(self._cursor)
        self._cursor = None
        self._lock = threading.Lock()
        self._loop = None


def _reserve(cursor: ConnectionCursor, name: str, size: int, partial: bool) -> range:
    ceiling = cursor.shape().ceiling
    while (top := cursor.increment(name, size)) is None:
        current = cursor.current(name) if partial else None
        if current is None or current >= ceiling:
            raise generic.why_nothing_changed(cursor, name, size)
        size = min(size, ceiling - current)  # if another process takes them first, look again
    return range(top - size + 1, top + 1)


# Keyed by id(engine): a reserver holds its engine, so the id stays valid for
# as long as the entry exists, and the entry goes (closing the connection)
# when the last sequence using it does.
_reservers: WeakValueDictionary[int, Reserver] = WeakValueDictionary()
_reservers_lock = threading.Lock()
# The tasks that close each reserving connection when its loop shuts down.
_closers: set[asyncio.Task[None]] = set()


def reserver_for(engine: Engine) -> Reserver:
    """The one :class:`Reserver` of ``engine`` in this process."""
    with _reservers_lock:
        reserver = _reservers.get(id(engine))
        if reserver is None:
            reserver = _reservers[id(engine)] = Reserver(engine)
        return reserver


def refuse_if_caller_locks_out(name: str, engine: Engine, session: AnySession, method: str) -> None:
    """Raise rather than wait for a lock the caller itself holds (SQLite's one writer).

    Reserving on ``engine`` would wait for the write lock of the caller's
    own transaction, which cannot end while it waits.
    """
    if caller_locks_out(engine, session):
        raise BlockReservationBlocked(name, method)


def caller_locks_out(engine: Engine, session: AnySession) -> bool:
    """Whether ``session``'s transaction holds the one write lock of ``engine``'s database (SQLite)."""
    table = per_engine(engine).table
    if not table.single_writer:
        return False
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        return False
    held = getattr(session.get_transaction(), '_connections', None)
    if held is not None and engine_of(session.get_bind(**TABLE_BIND)) not in held:
        # The transaction has not used the database yet, so it holds no
        # lock; asking for its connection would take one from the pool,
        # which many waiting callers may have emptied.
        return False
    connection = session.connection(bind_arguments=TABLE_BIND)
    mine, theirs = engine.url, connection.engine.url
    if (mine.get_backend_name(), mine.database) != (theirs.get_backend_name(), theirs.database):
        return False
    return bool(table.locks_out_other_writers(connection.connection.dbapi_connection))


# The blocks of every pooled sequence of this process, so that a forked
# child can drop what it inherited.
_live: WeakSet[Blocks] = WeakSet()
# Connections a forked child inherited: never used, never closed.
_inherited: list[ConnectionCursor] = []


def forget_blocks_after_fork(blocks: Blocks) -> None:
    """Have ``blocks`` start afresh in a forked child: they are its parent's."""
    _live.add(blocks)


def _after_fork_in_child() -> None:
    """A child must not hand out its parent's values nor talk on its parent's connections.

    Locks are replaced too: another thread of the parent may have held one
    at the moment of the fork. Disposing with ``close=False`` leaves the
    parent's pooled connections alone and gives the child a fresh pool, as
    SQLAlchemy recommends for every engine used across a fork.
    """
    for blocks in list(_live):
        blocks.after_fork()
    for reserver in list(_reservers.values()):
        reserver.after_fork()
        reserver.engine.dispose(close=False)


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)
