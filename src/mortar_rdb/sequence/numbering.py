"""Numbering rows as they are inserted: a column default that takes a sequence's values.

::

    Column('number', BigInteger, default=sequence_value('invoices'))

The number is taken when SQLAlchemy executes the row's INSERT (for the ORM,
when the session flushes), on the connection of the inserting transaction,
so a gapless sequence's row stays locked only from the INSERT to the
commit, not for the whole transaction. It is an ordinary Python-side
column default: a value given explicitly is kept, and SQLAlchemy puts the
value it took on the ORM object and in Core's ``last_inserted_params()``.

The sequence's SQL runs in the session's transaction on the session's bind
for the ``sequences`` table (a session with several binds included); a Core
connection outside any session lends its own transaction. A multi-row
INSERT (executemany, ORM bulk inserts, a flush of several objects) takes its
numbers with one ``next_many()``.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column, Connection, Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Session, SessionTransaction

from ..interfaces import ISequence
from ..registry import components
from ._dialects import table_sql_for
from ._names import check_name
from .errors import ColumnNotNumbered, ColumnSequenceNotRegistered, ColumnTooNarrow
from .generic import SequenceImplementation as GenericImplementation
from .types import Sequence

__all__ = ['SequenceValue', 'sequence_value']


def sequence_value(name: str) -> SequenceValue:
    """A column default giving each inserted row the next value of the sequence ``name``.

    Pass it as the ``default`` of a ``Column`` or ``mapped_column`` (as
    ``insert_default`` with dataclass mappings). ``name`` is looked up among
    the registered sequences when a row is inserted, so it may be registered
    after the table is declared.
    """
    return SequenceValue(name)


class SequenceValue:
    """The callable that :func:`~mortar_rdb.sequence.sequence_value` returns; SQLAlchemy calls it once per row
    with the INSERT's execution context."""

    __slots__ = ('name', '_ceilings', '__weakref__')

    def __init__(self, name: str) -> None:
        self.name = check_name(name)
        # The largest value each (column, database) holds, checked on first use.
        self._ceilings: dict[tuple[Column[Any], str], int] = {}

    def __call__(self, context: DefaultExecutionContext) -> int:
        column: Column[Any] = context.current_column
        rows = len(context.compiled_parameters)
        if rows == 1:
            value = self._take(context, column, 1)[0]
        else:
            # One call per row of an executemany: the first takes every
            # row's number with one statement, the others take theirs.
            by_column = _batches.setdefault(context, {})
            taken = by_column.get(column)
            if taken is None:
                taken = by_column[column] = iter(self._take(context, column, rows))
            value = next(taken)
        return self._fitting(value, column, context.dialect)

    def _take(self, context: DefaultExecutionContext, column: Column[Any], count: int) -> list[int]:
        sequence = self._registered(column)
        if hasattr(sequence, 'from_block'):
            # A pooled sequence: values come from the process's block,
            # usually without a statement, so one next() per row is cheaper
            # than next_many()'s round trip.
            return [_pooled_next(sequence, context) for _ in range(count)]
        session = _session_of(context.root_connection)
        if count == 1:
            return [sequence.next(session)]
        next_many = getattr(sequence, 'next_many', None)
        if next_many is None:  # a sequence of the application's own
            return [sequence.next(session) for _ in range(count)]
        return list(next_many(session, count))

    def _registered(self, column: Column[Any]) -> Sequence:
        sequence: Sequence | None = components().queryUtility(ISequence, self.name)
        if sequence is None:
            raise ColumnSequenceNotRegistered(self.name, _described(column))
        return sequence

    def _fitting(self, value: int, column: Column[Any], dialect: Dialect) -> int:
        key = (column, dialect.name)
        ceiling = self._ceilings.get(key)
        if ceiling is None:
            check_column(self.name, column)
            ceiling = self._ceilings[key] = table_sql_for(dialect).integer_ceiling(column.type)
        if value > ceiling:
            raise ColumnTooNarrow(
                self.name,
                _described(column),
                repr(column.type),
                value,
                ceiling,
                isinstance(components().queryUtility(ISequence, self.name), GenericImplementation),
            )
        return value

    def __repr__(self) -> str:
        return f'sequence_value({self.name!r})'


def check_column(name: str, column: Column[Any]) -> None:
    """Raise ColumnNotNumbered unless ``column`` holds integers."""
    try:
        holds_integers = column.type.python_type is int
    except NotImplementedError:
        holds_integers = False
    if not holds_integers:
        raise ColumnNotNumbered(name, _described(column), repr(column.type))


def numbered_columns(table: Table) -> Iterator[tuple[Column[Any], SequenceValue]]:
    """The columns of ``table`` numbered by a sequence, with their defaults."""
    for column in table.columns:
        default = column.default
        if default is not None and default.is_callable:
            function = getattr(default, 'arg', None)
            if isinstance(function, SequenceValue):
                yield column, function


@event.listens_for(Table, 'before_create')
def _check_at_create(table: Table, connection: Connection, **kw: Any) -> None:
    # A column that can never hold a number fails when it is created, not
    # at the first INSERT in production.
    for column, default in numbered_columns(table):
        check_column(default.name, column)


def _described(column: Column[Any]) -> str:
    table = getattr(column, 'table', None)
    return f'{table.name}.{column.name}' if table is not None else repr(column.name)


# Which session each connection belongs to, from the session's own
# after_begin event: a column default only sees the connection, and the
# sequence must run in the session (whose bind for the sequences table may
# be another database).
_sessions: WeakKeyDictionary[Connection, weakref.ref[Session]] = WeakKeyDictionary()

# The numbers taken for each column of a multi-row INSERT, by its execution context.
_batches: WeakKeyDictionary[DefaultExecutionContext, dict[Column[Any], Iterator[int]]] = WeakKeyDictionary()


@event.listens_for(Session, 'after_begin')
def _remember_session(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    _sessions[connection] = weakref.ref(session)


def _session_of(connection: Connection) -> Session:
    """The session whose transaction ``connection`` belongs to.

    A Core connection used outside any session gets a session joined to its
    own transaction for the statement, so the sequence runs there all the
    same.
    """
    found = _sessions.get(connection)
    session = found() if found is not None else None
    if session is not None and session.in_transaction():
        return session
    # Never closed: closing could roll back the connection's transaction,
    # which is its owner's to end. It holds nothing of its own.
    return Session(bind=connection, join_transaction_mode='rollback_only')


def _pooled_next(sequence: Any, context: DefaultExecutionContext) -> int:
    value: int | None = sequence.from_block()
    if value is not None:
        return value
    if context.dialect.is_async:
        # Inside an AsyncSession's flush: reserve through the reserver's
        # async door, as the async face does, so that concurrent tasks await
        # the reservation rather than block the event loop on a thread lock.
        from functools import partial

        from sqlalchemy.util import await_only

        return int(await_only(sequence.reserver.awaited(partial(sequence.next_from_new_block, None))))
    # Given the session, a reservation on SQLite first checks that the
    # inserting transaction does not hold the lock it would wait for.
    return int(sequence.next(_session_of(context.root_connection)))
