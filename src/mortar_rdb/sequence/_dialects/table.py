"""The ``sequences`` table's statements, one class per database.

Statements are built with SQLAlchemy, compiled once per engine, and run on a
DB-API cursor of the caller's connection: going through SQLAlchemy's
execution machinery for every value costs several times the query itself on
SQLite.
"""
from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sqlalchemy import BigInteger, Integer, SmallInteger, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter

from .._table import INT64_MAX, sequences
from ..errors import SequenceValueUnset

__all__ = ['MySQL', 'PostgreSQL', 'SQLite', 'SequenceSQL', 'Statement']

_name: BindParameter[str] = bindparam('seq_name')
_current = bindparam('current', type_=BigInteger)


class Statement:
    """A statement compiled once for one dialect: its text, and how to pass it values.

    ``parameters(*values)`` takes the values in the order of ``names`` and
    returns what the driver wants: a tuple in the order of the compiled
    placeholders, or a dict.
    """

    __slots__ = ('sql', 'parameters')

    def __init__(self, statement: ClauseElement, dialect: Dialect, *names: str) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.parameters: Callable[..., Any]
        if not dialect.positional:
            self.parameters = lambda *values: dict(zip(names, values, strict=True))
            return
        order = [names.index(key) for key in compiled.positiontup or ()]
        if order == list(range(len(names))):
            self.parameters = lambda *values: values
        elif len(order) == 1:
            pick = order[0]
            self.parameters = lambda *values: (values[pick],)
        else:
            reorder = itemgetter(*order)
            self.parameters = lambda *values: reorder(values)

    def execute(self, cursor: Any, *values: Any) -> Any:
        cursor.execute(self.sql, self.parameters(*values))
        return cursor


class SequenceSQL:
    """The statements of the ``sequences`` table on one database; this base works on any SQL database.

    ``increment`` adds ``step`` to a sequence and returns the new value, or
    None when no row was changed: the row is missing, or its value is above
    ``highest_start`` (where adding ``step`` would overflow the column).
    """

    #: Whether one transaction can keep every other connection from writing
    #: (SQLite); servers lock rows instead.
    single_writer = False

    def __init__(self, dialect: Dialect) -> None:
        table = sequences
        self.dialect = dialect
        self._select = Statement(select(table.c.current).where(table.c.name == _name), dialect, 'seq_name')
        self._insert = Statement(self._insert_missing_statement(), dialect, 'seq_name', 'current')
        self.increment_statement = Statement(self._increment_statement(), dialect, 'seq_name', 'step', 'highest_start')
        self.increment: Callable[[Any, str, int, int], int | None] = (
            self._increment_returning if self._can_return else self._increment_then_select
        )
        self._select_all = Statement(select(table.c.name, table.c.current), dialect)
        self._delete = Statement(delete(table).where(table.c.name == _name), dialect, 'seq_name')
        self._restart_any = Statement(
            update(table).where(table.c.name == _name).values(current=_current), dialect, 'seq_name', 'current'
        )
        self._restart_forward = Statement(
            update(table).where(table.c.name == _name, table.c.current <= _current).values(current=_current),
            dialect,
            'seq_name',
            'current',
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
        return insert(table).from_select(['name', 'current'], select(_name, _current).where(~exists))

    def _increment_returning(self, cursor: Any, name: str, step: int, highest_start: int) -> int | None:
        update = self.increment_statement
        cursor.execute(update.sql, update.parameters(name, step, highest_start))
        rows = cursor.fetchall()
        return rows[0][0] if rows else None

    def _increment_then_select(self, cursor: Any, name: str, step: int, highest_start: int) -> int | None:
        # The UPDATE takes the row lock, so the SELECT sees our own write.
        self.increment_statement.execute(cursor, name, step, highest_start)
        if cursor.rowcount != 1:
            return None
        return self.current(cursor, name)

    def current(self, cursor: Any, name: str) -> int | None:
        """The stored value of sequence ``name``, or None when it has no row.

        A row holding NULL (a mortar_rdb 3.0 table's column allows it) raises
        SequenceValueUnset: every operation reads the row this way before it
        says why it could not go on, so each names the row.
        """
        row = self._select.execute(cursor, name).fetchone()
        if row is None:
            return None
        if row[0] is None:
            raise SequenceValueUnset(name)
        return int(row[0])

    def insert_missing(self, cursor: Any, name: str, current: int) -> None:
        """Create the row for ``name`` holding ``current``, unless it exists."""
        self._insert.execute(cursor, name, current)

    def all(self, cursor: Any) -> list[tuple[str, int | None]]:
        """Every sequence's name and stored value (None for a row holding NULL), in no particular order."""
        rows = self._select_all.execute(cursor).fetchall()
        return [(name, None if current is None else int(current)) for name, current in rows]

    def delete(self, cursor: Any, name: str) -> bool:
        """Delete the row of sequence ``name``; True when there was one."""
        return bool(self._delete.execute(cursor, name).rowcount == 1)

    def restart(self, cursor: Any, name: str, current: int, force: bool) -> bool:
        """Store ``current`` for ``name``; True when the row was changed.

        Without ``force`` the row only changes when its value is at most
        ``current``: the check and the change are one statement.
        """
        statement = self._restart_any if force else self._restart_forward
        return bool(statement.execute(cursor, name, current).rowcount == 1)

    def integer_ceiling(self, column_type: object) -> int:
        """The largest value a column of ``column_type`` holds."""
        if isinstance(column_type, BigInteger):
            return INT64_MAX
        if isinstance(column_type, SmallInteger):
            return 2**15 - 1
        if isinstance(column_type, Integer):
            return 2**31 - 1
        return INT64_MAX

    @property
    def increments_in_one_statement(self) -> bool:
        """Whether :meth:`increment` is one statement, atomic even in autocommit mode."""
        return self._can_return

    def locks_out_other_writers(self, dbapi_connection: Any) -> bool:
        """Whether this connection's open transaction keeps every other
        connection to the database from committing a write.
        """
        return False


class PostgreSQL(SequenceSQL):
    def _insert_missing_statement(self) -> Any:
        return postgresql.insert(sequences).values(name=_name, current=_current).on_conflict_do_nothing(
            index_elements=['name']
        )


class SQLite(SequenceSQL):
    single_writer = True

    def _insert_missing_statement(self) -> Any:
        return sqlite.insert(sequences).values(name=_name, current=_current).on_conflict_do_nothing(
            index_elements=['name']
        )

    def integer_ceiling(self, column_type: object) -> int:
        # Every SQLite integer is 64-bit, whatever the declared type; past the
        # top, arithmetic silently turns into floating point.
        return INT64_MAX

    def locks_out_other_writers(self, dbapi_connection: Any) -> bool:
        # The sqlite3 module opens a transaction before the first write, and
        # an explicit BEGIN takes at least the shared lock that, in rollback
        # journal mode, keeps another connection from committing.
        # An async driver's adapted connection wraps the driver's own
        # (aiosqlite's), which says the same.
        driver_connection = getattr(dbapi_connection, 'driver_connection', dbapi_connection)
        return bool(getattr(driver_connection, 'in_transaction', False))


class MySQL(SequenceSQL):
    """MySQL and MariaDB: no UPDATE .. RETURNING, but LAST_INSERT_ID(expr).

    ``LAST_INSERT_ID(expr)`` stores ``expr`` as the connection's last insert
    id, which the server sends back with the UPDATE's OK packet: the driver's
    ``lastrowid``. One round trip, and nothing to SELECT.
    """

    _can_return = False
    # LAST_INSERT_ID(expr) hands the value back with the UPDATE's own reply.
    increments_in_one_statement = True

    def _increment_statement(self) -> Any:
        table = sequences
        return (
            update(table)
            .where(table.c.name == _name, table.c.current <= bindparam('highest_start'))
            .values(current=func.last_insert_id(table.c.current + bindparam('step')))
        )

    def _insert_missing_statement(self) -> Any:
        statement = mysql.insert(sequences).values(name=_name, current=_current)
        return statement.on_duplicate_key_update(name=statement.inserted.name)

    def _increment_then_select(self, cursor: Any, name: str, step: int, highest_start: int) -> int | None:
        update = self.increment_statement
        cursor.execute(update.sql, update.parameters(name, step, highest_start))
        if cursor.rowcount != 1:
            return None
        value = cursor.lastrowid
        # A value of 0 cannot be told apart from "no id" in the OK packet.
        return int(value) if value else self.current(cursor, name)


_BY_DIALECT: dict[str, type[SequenceSQL]] = {
    'postgresql': PostgreSQL,
    'sqlite': SQLite,
    'mysql': MySQL,
    'mariadb': MySQL,
}


def table_sql_for(dialect: Dialect) -> SequenceSQL:
    """The ``sequences`` table's statements for ``dialect`` (of a connected engine)."""
    return _BY_DIALECT.get(dialect.name, SequenceSQL)(dialect)
