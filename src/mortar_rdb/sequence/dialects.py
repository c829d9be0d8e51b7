"""Every database's SQL for the ``sequences`` table, in one place.

:func:`sql_for` picks one :class:`SequenceSQL` per dialect; the
implementations call its methods with a DB-API cursor and never look at the
dialect themselves. Statements are built with SQLAlchemy, compiled once, and
run on the cursor of the caller's connection: going through SQLAlchemy's
execution machinery for every value costs several times the query itself on
SQLite.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from sqlalchemy import BigInteger, Integer, SmallInteger, bindparam, func, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from .table import INT64_MAX, sequences

Values = Mapping[str, Any]

_name = bindparam('seq_name')


class Statement:
    """A statement compiled once for one dialect, run on a DB-API cursor."""

    __slots__ = ('sql', '_parameters')

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self._parameters: Callable[[Values], Any]
        if dialect.positional:
            order = compiled.positiontup or []
            pick = itemgetter(*order)
            self._parameters = (lambda values: (pick(values),)) if len(order) == 1 else pick
        else:
            self._parameters = dict

    def execute(self, cursor: Any, values: Values) -> Any:
        cursor.execute(self.sql, self._parameters(values))
        return cursor


class SequenceSQL:
    """The SQL for one database; this base works on any SQL database.

    ``increment`` adds ``step`` to a sequence and returns the new value, or
    None when no row was changed: the row is missing, or its value is above
    ``highest_start`` (where adding ``step`` would overflow the column).
    """

    def __init__(self, dialect: Dialect) -> None:
        table = sequences
        self.dialect = dialect
        self._select = Statement(select(table.c.current).where(table.c.name == _name), dialect)
        self._insert = Statement(self._insert_missing_statement(), dialect)
        self._update = Statement(self._increment_statement(), dialect)
        self.increment: Callable[[Any, str, int, int], int | None] = (
            self._increment_returning if self._can_return else self._increment_then_select
        )

    @property
    def _can_return(self) -> bool:
        return bool(self.dialect.update_returning)

    def _increment_statement(self) -> Any:
        table = sequences
        statement = (
            update(table)
            .where(table.c.name == _name, table.c.current <= bindparam('highest_start'))
            .values(current=table.c.current + bindparam('step'))
        )
        return statement.returning(table.c.current) if self._can_return else statement

    def _insert_missing_statement(self) -> Any:
        # Portable, but two registrations racing on a database without an
        # upsert can still collide; the supported databases override this.
        table = sequences
        exists = select(table.c.name).where(table.c.name == _name).exists()
        return insert(table).from_select(
            ['name', 'current'],
            select(_name, bindparam('current', type_=BigInteger)).where(~exists),
        )

    def _increment_returning(self, cursor: Any, name: str, step: int, highest_start: int) -> int | None:
        rows = self._update.execute(cursor, {'seq_name': name, 'step': step, 'highest_start': highest_start}).fetchall()
        return rows[0][0] if rows else None

    def _increment_then_select(self, cursor: Any, name: str, step: int, highest_start: int) -> int | None:
        # The UPDATE takes the row lock, so the SELECT sees our own write.
        self._update.execute(cursor, {'seq_name': name, 'step': step, 'highest_start': highest_start})
        if cursor.rowcount != 1:
            return None
        return self.current(cursor, name)

    def current(self, cursor: Any, name: str) -> int | None:
        """The stored value of sequence ``name``, or None when it has no row."""
        row = self._select.execute(cursor, {'seq_name': name}).fetchone()
        return None if row is None else int(row[0])

    def insert_missing(self, cursor: Any, name: str, current: int) -> None:
        """Create the row for ``name`` holding ``current``, unless it exists."""
        self._insert.execute(cursor, {'seq_name': name, 'current': current})

    def integer_ceiling(self, column_type: object) -> int:
        """The largest value a column of ``column_type`` holds."""
        if isinstance(column_type, BigInteger):
            return INT64_MAX
        if isinstance(column_type, SmallInteger):
            return 2**15 - 1
        if isinstance(column_type, Integer):
            return 2**31 - 1
        return INT64_MAX

    def is_missing_table(self, error: BaseException) -> bool:
        """Whether a driver error says the sequences table does not exist."""
        return False

    def is_conflict(self, error: BaseException) -> bool:
        """Whether a driver error means "another transaction got there first".

        True only for errors after which running the whole transaction
        again is safe: lock wait timeouts, deadlocks, serialization failures.
        """
        return False

    def conflict_advice(self, error: BaseException) -> str:
        """What to look at when a conflict keeps coming back."""
        return ''


class PostgreSQL(SequenceSQL):
    def _insert_missing_statement(self) -> Any:
        return (
            postgresql.insert(sequences)
            .values(name=_name, current=bindparam('current', type_=BigInteger))
            .on_conflict_do_nothing(index_elements=['name'])
        )

    def is_missing_table(self, error: BaseException) -> bool:
        return _sqlstate(error) == '42P01'

    # serialization_failure, deadlock_detected, lock_not_available (lock_timeout)
    _conflicts = frozenset({'40001', '40P01', '55P03'})

    def is_conflict(self, error: BaseException) -> bool:
        return _sqlstate(error) in self._conflicts


class SQLite(SequenceSQL):
    def _insert_missing_statement(self) -> Any:
        return (
            sqlite.insert(sequences)
            .values(name=_name, current=bindparam('current', type_=BigInteger))
            .on_conflict_do_nothing(index_elements=['name'])
        )

    def integer_ceiling(self, column_type: object) -> int:
        # Every SQLite integer is 64-bit, whatever the declared type; past the
        # top, arithmetic silently turns into floating point.
        return INT64_MAX

    def is_missing_table(self, error: BaseException) -> bool:
        return 'no such table' in str(error)

    def is_conflict(self, error: BaseException) -> bool:
        # SQLITE_BUSY, "database is locked": the busy timeout ran out, or
        # SQLite refused to wait because waiting could deadlock. Either way
        # the failed statement changed nothing. (sqlite_errorcode is new in
        # Python 3.11; the message is the same everywhere.)
        code = getattr(error, 'sqlite_errorcode', None)
        if code is not None:
            return code & 0xFF == _SQLITE_BUSY
        return 'database is locked' in str(error)


class MySQL(SequenceSQL):
    """MySQL and MariaDB: no UPDATE .. RETURNING, but LAST_INSERT_ID(expr).

    ``LAST_INSERT_ID(expr)`` stores ``expr`` as the connection's last insert
    id, which the server sends back with the UPDATE's OK packet: the driver's
    ``lastrowid``. One round trip, and nothing to SELECT.
    """

    _can_return = False

    def _increment_statement(self) -> Any:
        table = sequences
        return (
            update(table)
            .where(table.c.name == _name, table.c.current <= bindparam('highest_start'))
            .values(current=func.last_insert_id(table.c.current + bindparam('step')))
        )

    def _insert_missing_statement(self) -> Any:
        statement = mysql.insert(sequences).values(name=_name, current=bindparam('current', type_=BigInteger))
        return statement.on_duplicate_key_update(name=statement.inserted.name)

    def _increment_then_select(self, cursor: Any, name: str, step: int, highest_start: int) -> int | None:
        self._update.execute(cursor, {'seq_name': name, 'step': step, 'highest_start': highest_start})
        if cursor.rowcount != 1:
            return None
        value = cursor.lastrowid
        # A value of 0 cannot be told apart from "no id" in the OK packet.
        return int(value) if value else self.current(cursor, name)

    def is_missing_table(self, error: BaseException) -> bool:
        return _mysql_code(error) == 1146

    # ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK
    _conflicts = frozenset({1205, 1213})

    def is_conflict(self, error: BaseException) -> bool:
        return _mysql_code(error) in self._conflicts

    def conflict_advice(self, error: BaseException) -> str:
        if _mysql_code(error) != 1205:
            return ''
        # Since MariaDB 10.5 a prepared XA transaction outlives its client.
        return (
            ' If the lock is never released, a two-phase (XA) transaction whose process died '
            'after XA PREPARE may hold it: list those with XA RECOVER and end each one with '
            "XA ROLLBACK 'xid' (or XA COMMIT 'xid' if the rest of it committed)."
        )


_SQLITE_BUSY = 5


def _sqlstate(error: BaseException) -> str | None:
    return getattr(error, 'sqlstate', None) or getattr(error, 'pgcode', None)


def _mysql_code(error: BaseException) -> object:
    return error.args[0] if error.args else None


_BY_DIALECT: dict[str, type[SequenceSQL]] = {
    'postgresql': PostgreSQL,
    'sqlite': SQLite,
    'mysql': MySQL,
    'mariadb': MySQL,
}


def sql_for(dialect: Dialect) -> SequenceSQL:
    """The sequence SQL for ``dialect`` (of a connected engine)."""
    return _BY_DIALECT.get(dialect.name, SequenceSQL)(dialect)
