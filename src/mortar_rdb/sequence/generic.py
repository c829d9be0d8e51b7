"""The gapless implementation: one row per sequence in the ``sequences`` table.

``next()`` increments the row inside the caller's transaction. The row stays
locked until that transaction ends, so the value is given back if it rolls
back, and another transaction wanting the same sequence waits until then:
the numbers are gapless, at the price of serialising their users.
"""
from __future__ import annotations

from zope.interface import implementer, provider

from ..interfaces import IManagedSequence, IManagedSequenceFactory
from ..sessions import AnySession
from ._cursor import ConnectionCursor
from ._names import check_name
from ._sessions import session_cursor
from ._table import INT64_MAX, metadata, sequences, source
from ._values import check_count, check_value
from .errors import InvalidSequenceValue, SequenceMissing, SequenceOverflow, SequenceRestartRefused

__all__ = ['SequenceImplementation', 'metadata', 'sequences', 'source']


def reported(stored: int) -> int | None:
    """What :meth:`SequenceImplementation.current` says for a row holding ``stored``.

    Values start at 1, so a row below 1 has handed nothing out.
    """
    return stored if stored >= 1 else None


@implementer(IManagedSequence)
@provider(IManagedSequenceFactory)
class SequenceImplementation:
    """A gapless sequence stored as a row of the ``sequences`` table.

    Creating one (which :func:`~mortar_rdb.sequence.register_sequence` does)
    adds its row in ``session``'s transaction if it is not there yet; commit
    that transaction to keep it. The row holds the last value handed out, so
    a new sequence starting at ``start`` stores ``start - 1``. An existing
    row is left as it is, whatever ``start`` says: use :meth:`restart` to
    move it.
    """

    def __init__(self, name: str, session: AnySession, start: int = 1) -> None:
        self.name = check_name(name)
        check_value(start, INT64_MAX, 'The start value')  # before the session begins anything
        create_row(session_cursor(session), name, start)

    @classmethod
    def for_existing(cls, name: str) -> SequenceImplementation:
        """The sequence ``name`` without touching the database.

        For tools that work on rows that are already there; its methods raise
        :class:`~mortar_rdb.sequence.errors.SequenceMissing` if it is not.
        """
        sequence = cls.__new__(cls)
        sequence.name = check_name(name)
        return sequence

    @classmethod
    def drop_storage(cls, name: str, session: AnySession) -> bool:
        """Delete the row of sequence ``name``; return whether there was one."""
        return delete_row(session_cursor(session), check_name(name))

    def next(self, session: AnySession) -> int:
        """The next value, taken in ``session``'s transaction.

        The row stays locked until the transaction ends; a rollback gives the
        value back.
        """
        cursor = session_cursor(session)
        if not cursor.written:
            cursor.wrote()
        value = cursor.increment(self.name, 1)
        if value is None:
            raise why_nothing_changed(cursor, self.name)
        return value

    def next_many(self, session: AnySession, count: int) -> range:
        """``count`` consecutive values, taken with one statement.

        Like :meth:`next`, they are given back if the transaction rolls back.
        """
        check_count(count)
        return take(session_cursor(session), self.name, count)

    def current(self, session: AnySession) -> int | None:
        """The last value handed out (``start - 1`` before the first), or None below 1.

        A snapshot read without locking the row: another transaction may take
        the next value at any moment.
        """
        return current_of_row(session_cursor(session), self.name)

    def restart(self, session: AnySession, value: int, force: bool = False) -> None:
        """Make ``value`` the next value; refuse to move backwards without ``force``.

        The check and the change are a single statement, in ``session``'s
        transaction.
        """
        restart_row(session_cursor(session), self.name, value, force)

    def drop(self, session: AnySession) -> bool:
        """Delete this sequence's row; return whether there was one."""
        return self.drop_storage(self.name, session)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.name!r}>'


# What the sequence does to its row, on any cursor: the session's here, the
# reserving connection's for pooled sequences.


def create_row(cursor: ConnectionCursor, name: str, start: int) -> None:
    """Add the row of ``name``, whose first value is ``start``, unless there is one."""
    check_name(name)
    check_value(start, INT64_MAX, 'The start value')
    shape = cursor.shape()
    check_name(name, shape.name_length)
    check_value(start, shape.ceiling, 'The start value')
    if cursor.current(name) is None:
        cursor.wrote()
        cursor.insert_missing(name, start - 1)


def take(cursor: ConnectionCursor, name: str, count: int) -> range:
    """The next ``count`` values of ``name``, taken with one statement."""
    cursor.wrote()
    ceiling = cursor.shape().ceiling
    if count > ceiling:
        raise InvalidSequenceValue(f'The number of values must be at most {ceiling}, not {count}.')
    last = cursor.increment(name, count)
    if last is None:
        raise why_nothing_changed(cursor, name, count)
    return range(last - count + 1, last + 1)


def current_of_row(cursor: ConnectionCursor, name: str) -> int | None:
    """What :meth:`SequenceImplementation.current` says of ``name``."""
    value = cursor.current(name)
    if value is None:
        raise SequenceMissing(name, cursor.engine.where)
    return reported(value)


def restart_row(cursor: ConnectionCursor, name: str, value: int, force: bool) -> None:
    """Make ``value`` the next value of ``name``; backwards only with ``force``."""
    check_value(value, cursor.shape().ceiling, 'The restart value')
    cursor.wrote()
    if not cursor.restart(name, value - 1, force):
        stored = cursor.current(name)
        if stored is None:
            raise SequenceMissing(name, cursor.engine.where)
        raise SequenceRestartRefused(name, stored, value)


def delete_row(cursor: ConnectionCursor, name: str) -> bool:
    """Delete the row of ``name``; whether there was one."""
    cursor.wrote()
    return cursor.delete(name)


def why_nothing_changed(cursor: ConnectionCursor, name: str, count: int = 1) -> Exception:
    """The error to raise when an increment of ``name`` by ``count`` changed no row."""
    stored = cursor.current(name)
    if stored is None:
        return SequenceMissing(name, cursor.engine.where)
    ceiling = cursor.shape().ceiling
    return SequenceOverflow(name, ceiling, count, max(0, ceiling - max(stored, 0)))
