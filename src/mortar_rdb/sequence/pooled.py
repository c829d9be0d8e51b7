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
import sys
import threading
from collections.abc import Callable, Iterator
from typing import NamedTuple

from sqlalchemy import Connection, Engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from zope.interface import implementer, provider

from ..interfaces import IManagedSequence, IManagedSequenceFactory
from ..sessions import AnySession
from ._cursor import TABLE_BIND, refuse_async, refuse_non_session
from ._reserver import forget_blocks_after_fork, refuse_if_caller_locks_out, reserver_for
from ._values import check_count
from .errors import InvalidSequenceValue, SharedConnectionPool

__all__ = ['DEFAULT_BLOCK_SIZE', 'SequenceImplementation']

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
        forget_blocks_after_fork(self)

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
        refuse_if_caller_locks_out(name, engine, session, 'drop_storage')
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

    def from_block(self) -> int | None:
        """The next value of this process's block, or None when it is used up.

        Never touches the database: the async face takes values this way
        without leaving the event loop, and reserves only when it gets None.
        """
        block = self._block
        value = next(block.values)
        return value if value <= block.top else None

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
            refuse_async(session)
            refuse_if_caller_locks_out(self.name, self._engine, session, method)

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
    refuse_non_session(session)
    bind = session.get_bind(**TABLE_BIND)
    return bind.engine if isinstance(bind, Connection) else bind


def _usable(name: str, engine: Engine) -> Engine:
    """``engine``, if it can give a reservation a connection of its own."""
    refuse_async(engine)
    if isinstance(engine.pool, _SHARING_POOLS):
        raise SharedConnectionPool(name, type(engine.pool).__name__)
    return engine
