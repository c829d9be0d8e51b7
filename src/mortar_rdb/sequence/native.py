"""Sequences kept by the database itself: ``CREATE SEQUENCE`` and ``nextval``.

``next()`` is one statement on the caller's connection. The database hands
each value out once and never takes it back, so no transaction waits for
another, and a value taken in a transaction that rolls back is simply
skipped: the numbers are unique and increasing, not gapless.

Registering creates the sequence if it is missing, on a connection and in a
transaction of its own, committed at once. That keeps the caller's
transaction untouched: on MariaDB ``CREATE SEQUENCE`` would commit the
caller's open transaction, and it is refused inside the XA transactions that
:func:`mortar_rdb.register_session` uses there. A sequence that already
exists is adopted as it is, except on a MariaDB Galera node: there a sequence
is created ``INCREMENT BY 0`` so that each node hands out its own share of
the values, and an existing one with another increment, which would hand out
the same values on several nodes, is refused; so is every native sequence
while the cluster renumbers its nodes' offsets as they come and go
(``wsrep_auto_increment_control``, on by default).

``next()`` does not mark the session as written for :mod:`transaction`: a
value is used up whether or not the transaction commits, so a transaction
that only took numbers may end in a rollback (or join read-only) without
ever handing a number out twice.

It provides :class:`~mortar_rdb.interfaces.IManagedSequence` on PostgreSQL
and MariaDB. ``next_many()`` returns a list, contiguous only when no other
connection took values meanwhile. ``restart()`` and ``drop()`` change the
database at once, on a connection of their own, like registering: they are
not part of the caller's transaction and a rollback does not undo them.
"""
from __future__ import annotations

from sqlalchemy import Engine, exc, inspect
from sqlalchemy.orm import scoped_session
from zope.interface import implementer, provider

from ..interfaces import IManagedSequence, IManagedSequenceFactory
from ..sessions import AnySession
from ._cursor import ConnectionCursor
from ._dialects import Meaning, NativeSQL
from ._names import check_name
from ._per_engine import PerEngine
from ._sessions import native_session_cursor, refuse_non_session
from ._table import INT64_MAX
from ._values import check_count, check_value
from .errors import (
    GaleraOffsetsRenumbered,
    InvalidSequenceValue,
    NativeSequenceRepeatsAcrossNodes,
    NoNativeSequences,
    NotASequence,
    SequenceRestartRefused,
)
from .generic import reported

__all__ = ['SequenceImplementation', 'names']

#: How often registration looks again after another connection created the
#: same sequence at the same moment.
_ATTEMPTS = 5

#: How long creating a sequence waits for a lock before giving up. Waiting
#: longer cannot help when the lock is the caller's own: its transaction is
#: paused until registering returns.
LOCK_WAIT_SECONDS = 10


@implementer(IManagedSequence)
@provider(IManagedSequenceFactory)
class SequenceImplementation:
    """A native database sequence called ``name``, starting at ``start``.

    Creating one (which :func:`~mortar_rdb.sequence.register_sequence` does)
    creates the sequence, committed on a connection of its own, unless it
    exists; ``start`` only applies to a sequence created here.
    Raises NoNativeSequences on a database without sequences.
    """

    def __init__(self, name: str, session: AnySession, start: int = 1) -> None:
        self.name = check_name(name)
        self.start = check_value(start, INT64_MAX - 1, 'The start value of a 64-bit native sequence', floor=-(2**63))
        cursor = native_session_cursor(session, name)
        native = _supported(cursor)
        native.check_name(name)
        if native.offsets_move(cursor.connection):
            raise GaleraOffsetsRenumbered(name, cursor.engine.where)
        if not native.exists(cursor.connection, name):
            _create(cursor.connection.engine, cursor.engine, name, start)
        else:
            increment = native.repeats_across_nodes(cursor.connection, name)
            if increment is not None:
                raise NativeSequenceRepeatsAcrossNodes(name, increment, cursor.engine.where)

    @classmethod
    def for_existing(cls, name: str) -> SequenceImplementation:
        """The native sequence ``name`` without creating it.

        For tools that work on sequences that are already there; its methods
        raise :class:`~mortar_rdb.sequence.errors.NativeSequenceMissing` if
        it is not.
        """
        sequence = cls.__new__(cls)
        sequence.name = check_name(name)
        sequence.start = 1
        return sequence

    @classmethod
    def drop_storage(cls, name: str, session: AnySession) -> bool:
        """Drop the native sequence ``name``; return whether there was one.

        Done at once on a connection of its own, whatever becomes of
        ``session``'s transaction. Something other than a sequence called
        ``name`` is left alone (and False returned).
        """
        check_name(name)
        cursor = native_session_cursor(session, name)
        native = _supported(cursor)
        native.check_name(name)
        try:
            with cursor.connection.engine.connect() as connection:
                with connection.begin():
                    if not native.exists(connection, name):
                        return False
                    native.limit_lock_wait(connection, LOCK_WAIT_SECONDS)
                    connection.execute(native.drop(name))
        except exc.DBAPIError as error:
            if cursor.engine.meaning(error) in (Meaning.NO_SUCH_TABLE, Meaning.NO_SUCH_SEQUENCE):
                return False  # dropped by someone else meanwhile
            raise cursor.engine.translated_change(
                error, name, 'Dropping', LOCK_WAIT_SECONDS, cursor.connection.engine
            ) from error
        return True

    def next(self, session: AnySession) -> int:
        """The next value: unique and increasing, used up even on rollback."""
        return native_session_cursor(session, self.name).native_next(self.name)

    def next_many(self, session: AnySession, count: int) -> list[int]:
        """``count`` values taken in one statement, in increasing order.

        A list rather than a range: another connection may take values of
        the same sequence while this statement runs, and then the values are
        not contiguous. Like :meth:`next`, they are used up even on rollback.
        """
        check_count(count)
        if count > INT64_MAX:
            raise InvalidSequenceValue(f'The number of values must be at most {INT64_MAX}, not {count}.')
        cursor = native_session_cursor(session, self.name)
        _supported(cursor)
        return sorted(cursor.native_next_many(self.name, count))

    def current(self, session: AnySession) -> int | None:
        """The last value handed out (``start - 1`` before the first), or None below 1.

        Read from the sequence itself, so it counts values taken by every
        connection; a snapshot, taking nothing.
        """
        cursor = native_session_cursor(session, self.name)
        _supported(cursor)
        return reported(cursor.native_current(self.name))

    def restart(self, session: AnySession, value: int, force: bool = False) -> None:
        """Make ``value`` the next value; refuse to move backwards without ``force``.

        Done at once, on a connection of its own: a rollback of ``session``'s
        transaction does not undo it. The check and the change cannot be
        split by another connection taking values.
        """
        check_value(value, INT64_MAX, 'The restart value')
        cursor = native_session_cursor(session, self.name)
        native = _supported(cursor)
        try:
            current = native.restart(cursor.connection.engine, self.name, value, force, LOCK_WAIT_SECONDS)
        except exc.DBAPIError as error:
            raise cursor.engine.translated_change(
                error, self.name, 'Restarting', LOCK_WAIT_SECONDS, cursor.connection.engine
            ) from error
        if current is not None:
            raise SequenceRestartRefused(self.name, current, value)

    def drop(self, session: AnySession) -> bool:
        """Drop this native sequence; return whether there was one."""
        return self.drop_storage(self.name, session)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.name!r}>'


def names(session: AnySession) -> list[str]:
    """The names of the native sequences ``session``'s database holds, sorted.

    Every sequence of the default schema, whoever created it. Raises
    NoNativeSequences on a database without sequences.
    """
    refuse_non_session(session)
    if isinstance(session, scoped_session):
        session = session()
    cursor = ConnectionCursor(session.connection())
    _supported(cursor)
    return sorted(inspect(cursor.connection).get_sequence_names())


def _supported(cursor: ConnectionCursor) -> NativeSQL:
    native = cursor.engine.native
    if not native.supported:
        raise NoNativeSequences(native.database)
    return native


def _create(engine: Engine, facts: PerEngine, name: str, start: int) -> None:
    """Create sequence ``name`` in a transaction of its own, unless it exists.

    Two connections creating the same sequence at once can both find it
    missing; the loser's CREATE fails (PostgreSQL's catalog keeps names
    unique even against IF NOT EXISTS), and it looks again. Waiting for a
    lock is bounded: the lock may be the caller's, whose transaction cannot
    end while this waits.
    """
    native = facts.native
    for attempt in range(_ATTEMPTS):
        with engine.connect() as connection:
            try:
                with connection.begin():
                    if not native.exists(connection, name):
                        native.limit_lock_wait(connection, LOCK_WAIT_SECONDS)
                        connection.execute(native.create(name, start))
            except exc.DBAPIError as error:
                if attempt + 1 < _ATTEMPTS and facts.meaning(error) is Meaning.ALREADY_EXISTS:
                    continue
                raise facts.translated_change(error, name, 'Creating', LOCK_WAIT_SECONDS, engine) from error
            if native.exists(connection, name):
                return
            raise NotASequence(name, facts.where)
