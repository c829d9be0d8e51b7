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
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_scoped_session
from sqlalchemy.orm import Session
from sqlalchemy.util import greenlet_spawn

from ..interfaces import IManagedSequence, ISequence
from ..registry import components
from . import drop_sequence as _drop_sequence
from . import get_sequence
from . import register_sequence as _register_sequence
from ._cursor import TABLE_BIND
from ._reserver import Reserver, reserver_for
from .generic import SequenceImplementation
from .pooled import SequenceImplementation as PooledImplementation
from .types import Sequence

__all__ = ['AsyncSequence', 'drop_sequence', 'get_async_sequence', 'register_sequence']

T = TypeVar('T')

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
        sequence = await _reserving(reserver, lambda: session.run_sync(_register, name, impl, start, options))
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
    if isinstance(registered, PooledImplementation):
        reserver: Reserver | None = registered._reserver
    else:
        reserver = reserver_for(_engine_of(session)) if registered is None and _is_pooled(impl) else None
    if reserver is None:
        return bool(await session.run_sync(_drop, name, impl))
    return bool(await _reserving(reserver, lambda: session.run_sync(_drop, name, impl)))


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
        self.sync_sequence: Any = sync_sequence

    @property
    def name(self) -> str:
        return str(self.sync_sequence.name)

    async def next(self, session: AnyAsyncSession) -> int:
        """The next value, taken in ``session``'s transaction (see the implementation for what a rollback does)."""
        return int(await _async_session(session, 'next').run_sync(self.sync_sequence.next))

    async def next_many(self, session: AnyAsyncSession, count: int) -> range | list[int]:
        """``count`` values in one round trip, as the implementation's ``next_many()``."""
        return await self._managed(session, 'next_many', count)

    async def current(self, session: AnyAsyncSession) -> int | None:
        """The implementation's ``current()``: the last value handed out, or None below 1."""
        return await self._managed(session, 'current')

    async def restart(self, session: AnyAsyncSession, value: int, force: bool = False) -> None:
        """Make ``value`` the next value; refuse to move backwards without ``force``."""
        await self._managed(session, 'restart', value, force)

    async def drop(self, session: AnyAsyncSession) -> bool:
        """Delete this sequence's storage; return whether there was some. It stays registered."""
        return bool(await self._managed(session, 'drop'))

    def _managed(self, session: AnyAsyncSession, method: str, *arguments: Any) -> Awaitable[Any]:
        if not IManagedSequence.providedBy(self.sync_sequence):
            raise TypeError(
                f'Sequence {self.name!r} is a {type(self.sync_sequence).__name__}, '
                f'which has no {method}(): it only provides ISequence.'
            )
        return _async_session(session, method).run_sync(getattr(self.sync_sequence, method), *arguments)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} of {self.sync_sequence!r}>'


class AsyncPooledSequence(AsyncSequence):
    """The async face of a pooled sequence: values from the block without leaving the loop.

    Reserving, and everything else that uses the reserving connection, is
    done by one task at a time per engine; the others await an
    :class:`asyncio.Lock`, so the event loop runs on while they wait.
    """

    __slots__ = ()

    async def next(self, session: AnyAsyncSession | None = None) -> int:
        """The next value of this process's block, reserving a block (awaited) when it is used up.

        As with the sync API, the value belongs to the caller whether its
        transaction commits or not.
        """
        sequence = self.sync_sequence
        value: int | None = sequence.from_block()
        if value is not None:
            return value
        sync_session = None if session is None else _async_session(session, 'next').sync_session
        reserve = sequence._next_from_new_block
        return int(await _reserving(sequence._reserver, lambda: greenlet_spawn(reserve, sync_session)))

    def _managed(self, session: AnyAsyncSession, method: str, *arguments: Any) -> Awaitable[Any]:
        managed = super()._managed
        return _reserving(self.sync_sequence._reserver, lambda: managed(session, method, *arguments))


async def _reserving(reserver: Reserver, work: Callable[[], Awaitable[T]]) -> T:
    """Await ``work()`` on ``reserver``'s connection, one task at a time.

    Other tasks wait on an :class:`asyncio.Lock`, and may be cancelled while
    they wait. Once started, ``work()`` is shielded from cancellation: a
    caller that is cancelled then (a request's timeout) stops waiting, but
    the statement runs to the end on the connection and the lock is held
    until it has. Cut short, it could leave the statement half-read (on
    SQLite, holding the database's write lock) and would cost the
    connection; completed, a pooled sequence keeps the block it reserved.
    """
    lock = _reservation_lock(reserver)
    await lock.acquire()
    try:
        running = asyncio.ensure_future(work())
    except BaseException:
        lock.release()
        raise
    running.add_done_callback(lambda _: lock.release())
    return await asyncio.shield(running)


def _face(sequence: Sequence) -> AsyncSequence:
    if isinstance(sequence, PooledImplementation):
        return AsyncPooledSequence(sequence)
    return AsyncSequence(sequence)


def _is_pooled(impl: Any) -> bool:
    return isinstance(impl, type) and issubclass(impl, PooledImplementation)


def _async_session(session: Any, method: str) -> AsyncSession:
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
    bind = session.sync_session.get_bind(**TABLE_BIND)
    return bind.engine if isinstance(bind, Connection) else bind


# One asyncio.Lock per reserving connection and event loop. An async
# driver's connection belongs to the loop it was opened on: when another
# loop starts using the reserver (a new asyncio.run()), the old connection
# is dropped and the next reservation opens one on the new loop.
_locks: WeakKeyDictionary[Reserver, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = WeakKeyDictionary()
# The tasks that close each reserving connection when its loop shuts down.
_closers: set[asyncio.Task[None]] = set()


def _reservation_lock(reserver: Reserver) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    found = _locks.get(reserver)
    if found is not None and found[0] is not loop:
        reserver.abandon()
    return _for_loop(reserver, loop)


def close_with_loop(reserver: Reserver) -> None:
    """Close ``reserver``'s new connection when the running loop shuts down.

    Called by the reserver when it connects through an async driver,
    whether the async face or the sync API (in ``run_sync``) asked it to.
    """
    _for_loop(reserver, asyncio.get_running_loop())


def _for_loop(reserver: Reserver, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
    found = _locks.get(reserver)
    if found is None or found[0] is not loop:
        found = _locks[reserver] = (loop, asyncio.Lock())
        closer = loop.create_task(_close_at_shutdown(reserver))
        _closers.add(closer)
        closer.add_done_callback(_closers.discard)
    return found[1]


async def _close_at_shutdown(reserver: Reserver) -> None:
    """Keep ``reserver`` until the loop shuts down, then close its connection on it.

    ``asyncio.run()`` cancels the tasks still pending as it ends, while the
    loop still runs: the connection is closed there, by its own driver,
    rather than by the garbage collector after the loop has closed. Until
    then the reserver lives on even when no sequence uses it, so that its
    connection is never left to the garbage collector either.
    """
    try:
        await asyncio.Event().wait()
    finally:
        await greenlet_spawn(reserver.abandon)
