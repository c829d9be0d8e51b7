"""The caller's session, as sequence code uses it: which connection, and for which transaction.

Each session transaction has one :class:`~._cursor.SessionTransactionCursor`
for the ``sequences`` table and one per native sequence, kept in
``session.info`` until the transaction ends. Anything that is not a
``Session`` (an engine, a connection, an ``AsyncSession``) is refused here
with a TypeError that says what to pass.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Sequence, exc
from sqlalchemy.orm import Session, scoped_session

from .._binds import engine_of
from .._identifiers import identifier
from ..sessions import AnySession
from ._cursor import SessionTransactionCursor
from ._per_engine import per_engine
from ._table import sequences

__all__ = [
    'TABLE_BIND',
    'native_bind',
    'native_session_cursor',
    'refuse_async',
    'refuse_non_session',
    'session_cursor',
    'table_engine',
]

#: How sequence code asks a session for the connection of the ``sequences``
#: table: a session with several binds (``binds=``, by table or by mapper, or
#: its own ``get_bind()``) then picks the database that holds the table.
TABLE_BIND: dict[str, Any] = {'clause': sequences}


def native_bind(name: str) -> dict[str, Any]:
    """How to ask a session for the connection of native sequence ``name``."""
    return {'clause': Sequence(identifier(name)).next_value()}


def table_engine(session: AnySession) -> Engine:
    """The engine of ``session``'s bind for the ``sequences`` table; no I/O."""
    refuse_non_session(session)
    return engine_of(session.get_bind(**TABLE_BIND))


_TABLE_KEY = 'mortar_rdb.sequence.cursor'
_NATIVE_KEY = 'mortar_rdb.sequence.cursor.native'


def session_cursor(session: AnySession) -> SessionTransactionCursor:
    """The cursor on ``session``'s connection for the ``sequences`` table, for its current transaction."""
    if isinstance(session, scoped_session):
        session = session()
    try:
        cached: SessionTransactionCursor | None = session.info.get(_TABLE_KEY)
    except AttributeError:
        refuse_non_session(session)
        raise
    # is_current(), written out: this is every next()'s path.
    if cached is not None and cached.transaction is session.get_transaction() and cached.transaction.is_active:  # type: ignore[union-attr]
        return cached
    fresh = session.info[_TABLE_KEY] = _begin(session, TABLE_BIND)
    return fresh


def native_session_cursor(session: AnySession, name: str) -> SessionTransactionCursor:
    """The cursor on ``session``'s connection for native sequence ``name``, for its current transaction.

    The session's bind for the sequence (its ``get_bind()`` given a clause of
    it) chooses the database, once per name and transaction.
    """
    if isinstance(session, scoped_session):
        session = session()
    try:
        by_name: dict[str, SessionTransactionCursor] = session.info.get(_NATIVE_KEY) or {}
    except AttributeError:
        refuse_non_session(session)
        raise
    cached = by_name.get(name)
    if cached is not None and cached.is_current(session):
        return cached
    if any(not cursor.is_current(session) for cursor in by_name.values()):
        by_name = {}
    fresh = by_name[name] = _begin(session, native_bind(name))
    session.info[_NATIVE_KEY] = by_name
    return fresh


def refuse_async(session: object) -> None:
    """Raise TypeError if ``session`` belongs to SQLAlchemy's asyncio extension.

    Its methods return coroutines, which the sync API would fail on with a
    puzzling AttributeError (and a never-awaited warning). Looked up by
    module, so that nothing imports the asyncio extension (nor needs
    greenlet) unless the application does.
    """
    if type(session).__module__.startswith('sqlalchemy.ext.asyncio'):
        raise TypeError(
            f'mortar_rdb.sequence was given an {type(session).__name__}, which the sync API cannot use: '
            'in asyncio code use mortar_rdb.sequence.asyncio instead, for example '
            '"await register_sequence(name, async_session)" and '
            '"await get_async_sequence(name).next(async_session)".'
        )


def refuse_non_session(session: object) -> None:
    """Raise TypeError, saying what to pass, if ``session`` is not a SQLAlchemy ``Session``.

    An engine, a connection or None would otherwise fail deep inside with an
    AttributeError that names none of them. Only called off the hot path:
    where a cached cursor is found, the session was checked when it was made.
    """
    refuse_async(session)
    if not isinstance(session, (Session, scoped_session)):
        raise TypeError(
            f'mortar_rdb.sequence needs a SQLAlchemy Session (or scoped_session) here, not {session!r}: '
            'pass get_session(), or a Session(engine) of your own.'
        )


def _begin(session: Session, bind_arguments: dict[str, Any]) -> SessionTransactionCursor:
    refuse_non_session(session)
    try:
        return SessionTransactionCursor(session, bind_arguments)
    except exc.DBAPIError as error:
        # Beginning the transaction failed: on MariaDB, XA START on a
        # connection that the server closed while it sat in the pool.
        bind = session.get_bind(**bind_arguments)
        raise per_engine(engine_of(bind)).translated(error) from error
