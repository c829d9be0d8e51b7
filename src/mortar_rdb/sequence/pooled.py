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

from sqlalchemy import Engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from zope.interface import implementer, provider

from ..interfaces import IManagedSequence, IManagedSequenceFactory
from ..sessions import AnySession
from . import generic
from ._blocks import Blocks
from ._reserver import Reserver, caller_locks_out, forget_blocks_after_fork, refuse_if_caller_locks_out, reserver_for
from ._sessions import refuse_async, session_cursor, table_engine
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
        and commits it at once, in a transaction of its own (on SQLite, where
        the caller's transaction already writes to the database, in that
        transaction: SQLite has one writer at a time).
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
        engine = _usable(name, table_engine(session) if engine is None else engine)
        self.name = name
        self.block_size = block_size
        self._engine = engine
        # This process's block of values, and the connection of its own that
        # reserves blocks, with a sync and an async door: the async face
        # calls them (see _blocks.py and _reserver.py).
        self.blocks = Blocks()
        self.reserver: Reserver = reserver_for(engine)
        # Connect before looking at the caller's session, which may take
        # the last connection the pool has.
        self.reserver.connect()
        refuse_async(session)
        if caller_locks_out(engine, session):
            # SQLite: the caller's transaction already writes (a generic
            # sequence registered in it, say), and the reserving connection
            # would wait for it forever. The row is created in that
            # transaction instead, and commits with it.
            generic.create_row(session_cursor(session), name, start)
        else:
            self.reserver.create_row(name, start)
        forget_blocks_after_fork(self.blocks)

    @classmethod
    def drop_storage(cls, name: str, session: AnySession) -> bool:
        """Delete the row of sequence ``name``; return whether there was one.

        Committed at once on the reservation connection of ``session``'s
        engine, whatever becomes of ``session``'s transaction. Processes that
        still hold blocks of ``name`` keep handing them out.
        """
        engine = _usable(name, table_engine(session))
        refuse_if_caller_locks_out(name, engine, session, 'drop_storage')
        return reserver_for(engine).drop(name)

    def next(self, session: AnySession | None = None) -> int:
        """The next value of this process's block, reserving a block when it is used up.

        ``session`` is not written to: the value belongs to the caller whether
        its transaction commits or not. On SQLite it is looked at before a
        reservation, to fail fast where that would wait for its own lock.
        """
        value = self.blocks.take()
        if value is not None:
            return value
        return self.next_from_new_block(session)

    def from_block(self) -> int | None:
        """The next value of this process's block, or None when it is used up.

        Never touches the database: the async face and numbered columns take
        values this way without a statement, and reserve only on None.
        """
        return self.blocks.take()

    def next_from_new_block(self, session: AnySession | None = None) -> int:
        """A value from the current block, or from a new one reserved when it is used up.

        One thread reserves while the others wait on the block's lock; they
        then take their values from the block it reserved. The async face
        calls it through the reserver's async door.
        """
        blocks = self.blocks
        with blocks.lock:
            while (value := blocks.take()) is None:
                self._refuse_if_caller_locks_us_out(session)
                blocks.refill(self.reserver.reserve(self.name, self.block_size, partial=True))
            return value

    def next_many(self, session: AnySession, count: int) -> range:
        """``count`` fresh consecutive values, reserved in one round trip.

        They come straight from the ``sequences`` row, as a block does, and
        are committed at once; this process's current block is left as it
        is, so :meth:`next` goes on from where it was.
        """
        check_count(count)
        self._refuse_if_caller_locks_us_out(session, 'next_many')
        ceiling = self.reserver.ceiling()
        if count > ceiling:
            raise InvalidSequenceValue(f'The number of values must be at most {ceiling}, not {count}.')
        return self.reserver.reserve(self.name, count)

    def current(self, session: AnySession) -> int | None:
        """The highest value reserved by anyone (``start - 1`` before the first), or None below 1.

        Read on the reservation connection, so it sees every committed
        reservation. Values still waiting in the blocks of live processes,
        this one's included, are below it: it is a high-water mark, not the
        last value handed out.
        """
        return self.reserver.current(self.name)

    def restart(self, session: AnySession, value: int, force: bool = False) -> None:
        """Make ``value`` the next value; refuse to move backwards without ``force``.

        Checked and changed like a generic sequence, but committed at once on
        the reservation connection. This process forgets its block, so its
        next value is ``value``; other processes hand out the rest of their
        blocks first, so moving backwards with ``force`` can repeat values.
        """
        self._refuse_if_caller_locks_us_out(session, 'restart')
        with self.blocks.lock:
            self.reserver.restart(self.name, value, force)
            self.blocks.forget()

    def drop(self, session: AnySession) -> bool:
        """Delete this sequence's row, committed at once; return whether there was one.

        This process forgets its block; other processes keep theirs.
        """
        self._refuse_if_caller_locks_us_out(session, 'drop')
        with self.blocks.lock:
            self.blocks.forget()
            return self.reserver.drop(self.name)

    def _refuse_if_caller_locks_us_out(self, session: AnySession | None, method: str = 'next') -> None:
        if session is not None:
            refuse_async(session)
            refuse_if_caller_locks_out(self.name, self._engine, session, method)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.name!r} block_size={self.block_size}>'


def _usable(name: str, engine: Engine) -> Engine:
    """``engine``, if it can give a reservation a connection of its own."""
    refuse_async(engine)
    if isinstance(engine.pool, _SHARING_POOLS):
        raise SharedConnectionPool(name, type(engine.pool).__name__)
    return engine
