"""Sequences for asyncio applications: ``await`` them in an ``AsyncSession``'s transaction.

A thin async face over the sync implementations, built the way SQLAlchemy's
own asyncio extension is built: :class:`AsyncSequence` wraps a registered
sequence as ``AsyncSession`` wraps a ``Session``, and each method runs the
sync method through :meth:`AsyncSession.run_sync
<sqlalchemy.ext.asyncio.AsyncSession.run_sync>`, in a greenlet whose driver
calls await on the event loop. The SQL, the registry, the names and the
errors are the sync API's own.

Pooled sequences hand values out of their block without leaving the event
loop. When the block is used up, one task reserves the next one, through the
same reserving connection as the sync API (here an async driver's, so the
reservation awaits); the other tasks wait on an :class:`asyncio.Lock`, never
blocking the loop, and then take their values from the new block.
"""
from __future__ import annotations

import asyncio
import collections.abc
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_scoped_session
from sqlalchemy.orm import Session

from ..interfaces import IManagedSequence, ISequence
from ..registry import components
from . import drop_sequence as _drop_sequence
from . import get_sequence
from . import register_sequence as _register_sequence
from ._per_engine import per_engine
from ._reserver import Reserver, reserver_for
from ._sessions import table_engine
from .generic import SequenceImplementation
from .pooled import SequenceImplementation as PooledImplementation
from .types import ManagedSequence, Sequence

__all__ = ['AsyncSequence', 'drop_sequence', 'get_async_sequence', 'register_sequence']

T = TypeVar('T')
P = ParamSpec('P')

#: What the async face accepts: an ``AsyncSession``, or an ``async_scoped_session`` to call.
AnyAsyncSession = AsyncSession | async_scoped_session[AsyncSession]


async def register_sequence(
    name: str,
    session: AnyAsyncSession,
    impl: Any = SequenceImplementation,
    start: int | None = None,
    **options: Any,
) -> AsyncSequence:
    """Create (if needed) and register the sequence ``name``; return its async face.

    The same as :func:`mortar_rdb.sequence.register_sequence`, from async
    code: the sequence is registered under the same name, for the sync API
    too. A generic sequence may insert its row in ``session``'s
    transaction, so commit it afterwards. A pooled sequence's ``engine``
    may be an ``AsyncEngine``.
    """
    session = _async_session(session, 'register_sequence')
    if isinstance(options.get('engine'), AsyncEngine):
        options['engine'] = options['engine'].sync_engine
    if _is_pooled(impl):
        reserver = reserver_for(options.get('engine') or _engine_of(session))
        sequence = await reserver.awaited(partial(_register, session.sync_session, name, impl, start, options))
    else:
        sequence = await session.run_sync(_register, name, impl, start, options)
    return _face(sequence)


def _register(session: Session, name: str, impl: Any, start: int | None, options: dict[str, Any]) -> Sequence:
    return _register_sequence(name, session, impl, start, **options)


def get_async_sequence(name: str) -> AsyncSequence:
    """The async face of the sequence registered as ``name``.

    Raises zope's ``ComponentLookupError`` if there is none, as
    :func:`~mortar_rdb.sequence.get_sequence` does.
    """
    return _face(get_sequence(name))


async def drop_sequence(name: str, session: AnyAsyncSession, impl: Any = SequenceImplementation) -> bool:
    """Remove the sequence ``name``, its storage and its registration, as
    :func:`mortar_rdb.sequence.drop_sequence` does; return whether it had storage."""
    session = _async_session(session, 'drop_sequence')
    registered = components().queryUtility(ISequence, name)
    reserver: Reserver | None = None
    if isinstance(registered, PooledImplementation):
        reserver = registered.reserver
    elif registered is None and _is_pooled(impl):
        reserver = reserver_for(_engine_of(session))
    if reserver is None:
        return await session.run_sync(_drop, name, impl)
    return await reserver.awaited(partial(_drop, session.sync_session, name, impl))


def _drop(session: Session, name: str, impl: Any) -> bool:
    return _drop_sequence(name, session, impl)


class AsyncSequence:
    """The async face of a registered sequence, as ``AsyncSession`` is of a ``Session``.

    Every method takes an ``AsyncSession`` (or an ``async_scoped_session``)
    and awaits what the sync method of :attr:`sync_sequence` does with its
    ``Session``: the same SQL, the same transaction, the same errors.
    """

    __slots__ = ('sync_sequence',)

    def __init__(self, sync_sequence: Sequence) -> None:
        #: the sequence the sync API uses, registered under the same name
        self.sync_sequence = sync_sequence

    @property
    def name(self) -> str:
        return str(getattr(self.sync_sequence, 'name', ''))

    async def next(self, session: AnyAsyncSession) -> int:
        """The next value, taken in ``session``'s transaction (see the implementation for what a rollback does)."""
        return await self._run(session, 'next', self.sync_sequence.next)

    async def next_many(self, session: AnyAsyncSession, count: int) -> collections.abc.Sequence[int]:
        """``count`` values in one round trip, as the implementation's ``next_many()``."""
        return await self._run(session, 'next_many', self._managed('next_many').next_many, count)

    async def current(self, session: AnyAsyncSession) -> int | None:
        """The implementation's ``current()``: the last value handed out, or None below 1."""
        return await self._run(session, 'current', self._managed('current').current)

    async def restart(self, session: AnyAsyncSession, value: int, force: bool = False) -> None:
        """Make ``value`` the next value; refuse to move backwards without ``force``."""
        await self._run(session, 'restart', self._managed('restart').restart, value, force)

    async def drop(self, session: AnyAsyncSession) -> bool:
        """Delete this sequence's storage; return whether there was some. It stays registered."""
        return await self._run(session, 'drop', self._managed('drop').drop)

    async def _run(
        self,
        session: AnyAsyncSession,
        method: str,
        work: Callable[Concatenate[Session, P], T],
        *arguments: P.args,
        **keywords: P.kwargs,
    ) -> T:
        """Await ``work(sync_session, ...)``, the sync method ``method``, in ``session``'s greenlet."""
        session = _async_session(session, method)
        running = session.run_sync(work, *arguments, **keywords)
        if per_engine(_engine_of(session)).table.single_writer:
            return await _to_the_end(running)
        return await running

    def _managed(self, method: str) -> ManagedSequence:
        if not IManagedSequence.providedBy(self.sync_sequence):
            raise TypeError(
                f'Sequence {self.name!r} is a {type(self.sync_sequence).__name__}, '
                f'which has no {method}(): it only provides ISequence.'
            )
        return cast(ManagedSequence, self.sync_sequence)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} of {self.sync_sequence!r}>'


class AsyncPooledSequence(AsyncSequence):
    """The async face of a pooled sequence: values from the block without leaving the loop.

    Reserving, and everything else that uses the reserving connection, goes
    through the reserver's async door: one task at a time per engine, the
    others awaiting an :class:`asyncio.Lock`, so the event loop runs on
    while they wait.
    """

    __slots__ = ('pooled',)

    def __init__(self, sync_sequence: PooledImplementation) -> None:
        super().__init__(sync_sequence)
        self.pooled = sync_sequence

    async def next(self, session: AnyAsyncSession | None = None) -> int:
        """The next value of this process's block, reserving a block (awaited) when it is used up.

        As with the sync API, the value belongs to the caller whether its
        transaction commits or not.
        """
        pooled = self.pooled
        value = pooled.blocks.take()
        if value is not None:
            return value
        sync_session = None if session is None else _async_session(session, 'next').sync_session
        return await pooled.reserver.awaited(partial(pooled.next_from_new_block, sync_session))

    async def _run(
        self,
        session: AnyAsyncSession,
        method: str,
        work: Callable[Concatenate[Session, P], T],
        *arguments: P.args,
        **keywords: P.kwargs,
    ) -> T:
        sync_session = _async_session(session, method).sync_session
        return await self.pooled.reserver.awaited(partial(work, sync_session, *arguments, **keywords))


async def _to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile, then let the cancellation through.

    On SQLite (aiosqlite) a statement cut short by a cancellation is left
    in progress, and keeps the database's write lock after the transaction
    rolls back, until the garbage collector happens to find it: every other
    connection gets "database is locked" meanwhile. Letting the statement
    finish costs the cancelled task one statement's wait.
    """
    running = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await asyncio.wait([running])
        if not running.cancelled():
            running.exception()  # retrieved: the caller gets the cancellation instead
        raise


def _face(sequence: Sequence) -> AsyncSequence:
    if isinstance(sequence, PooledImplementation):
        return AsyncPooledSequence(sequence)
    return AsyncSequence(sequence)


def _is_pooled(impl: Any) -> bool:
    return isinstance(impl, type) and issubclass(impl, PooledImplementation)


def _async_session(session: object, method: str) -> AsyncSession:
    """``session`` as an ``AsyncSession``; a TypeError pointing to the sync API for anything else."""
    if isinstance(session, async_scoped_session):
        session = session()
    if not isinstance(session, AsyncSession):
        raise TypeError(
            f'mortar_rdb.sequence.asyncio {method}() takes an AsyncSession, not {type(session).__name__}: '
            'with a Session, use mortar_rdb.sequence (get_sequence(name).next(session)).'
        )
    return session


def _engine_of(session: AsyncSession) -> Engine:
    """The (sync) engine of the session's bind for the ``sequences`` table; no I/O."""
    return table_engine(session.sync_session)
