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

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    SmallInteger,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter

from .errors import SequenceTableNotUpgradable
from .table import INT64_MAX, NAME_LENGTH, sequences

Values = Mapping[str, Any]

_name: BindParameter[str] = bindparam('seq_name')
_current = bindparam('current', type_=BigInteger)


class Statement:
    """A statement compiled once for one dialect, run on a DB-API cursor."""

    __slots__ = ('sql', '_parameters')

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self._parameters: Callable[[Values], Any]
        if dialect.positional:
            order = compiled.positiontup or []
            if not order:
                self._parameters = lambda values: ()
            elif len(order) == 1:
                pick = itemgetter(*order)
                self._parameters = lambda values: (pick(values),)
            else:
                self._parameters = itemgetter(*order)
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
        self._select_all = Statement(select(table.c.name, table.c.current), dialect)
        self._delete = Statement(delete(table).where(table.c.name == _name), dialect)
        self._restart_any = Statement(update(table).where(table.c.name == _name).values(current=_current), dialect)
        self._restart_forward = Statement(
            update(table).where(table.c.name == _name, table.c.current <= _current).values(current=_current),
            dialect,
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

    def all(self, cursor: Any) -> list[tuple[str, int]]:
        """Every sequence's name and stored value, in no particular order."""
        return [(name, int(current)) for name, current in self._select_all.execute(cursor, {}).fetchall()]

    def delete(self, cursor: Any, name: str) -> bool:
        """Delete the row of sequence ``name``; True when there was one."""
        return bool(self._delete.execute(cursor, {'seq_name': name}).rowcount == 1)

    def restart(self, cursor: Any, name: str, current: int, force: bool) -> bool:
        """Store ``current`` for ``name``; True when the row was changed.

        Without ``force`` the row only changes when its value is at most
        ``current``: the check and the change are one statement.
        """
        statement = self._restart_any if force else self._restart_forward
        return bool(statement.execute(cursor, {'seq_name': name, 'current': current}).rowcount == 1)

    # Table upgrades, from mortar_rdb 3.0's ``name VARCHAR(20)`` and 32-bit
    # ``current`` to the shape of :data:`~mortar_rdb.sequence.table.sequences`.
    # They run on a SQLAlchemy connection, in its transaction.

    def outdated(self, connection: Connection) -> list[str]:
        """How the existing sequences table differs from the current shape."""
        columns = {column['name'].lower(): column for column in inspect(connection).get_columns(sequences.name)}
        differences = []
        name, current = columns.get('name'), columns.get('current')
        if name is None or current is None:
            raise SequenceTableNotUpgradable(
                'The sequences table has no name or no current column, so it was not made by '
                'mortar_rdb; rename it, then create a new one with create-table.'
            )
        length = getattr(name['type'], 'length', None)
        if length is not None and length < NAME_LENGTH:
            differences.append(f'names hold {length} characters, not {NAME_LENGTH}')
        if not isinstance(current['type'], BigInteger):
            differences.append(f'current is {current["type"]!r}, not 64-bit')
        if current['nullable']:
            differences.append('current accepts NULL')
        return differences

    def quote(self, identifier: str) -> str:
        return str(self.dialect.identifier_preparer.quote(identifier))

    def column_ddl(self, column_name: str) -> str:
        """The type of ``column_name`` as the current table declares it."""
        return str(sequences.c[column_name].type.compile(dialect=self.dialect))

    def upgrade(self, connection: Connection) -> None:
        """Alter the sequences table to the current shape, keeping every row."""
        raise SequenceTableNotUpgradable(
            f'mortar_rdb cannot upgrade a sequences table on {self.dialect.name}; alter it by '
            f'hand to name {self.column_ddl("name")} and current BIGINT NOT NULL.'
        )

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

    @property
    def increments_in_one_statement(self) -> bool:
        """Whether :meth:`increment` is one statement, atomic even in autocommit mode."""
        return self._can_return

    #: Whether one transaction can keep every other connection from writing
    #: (SQLite); servers lock rows instead.
    single_writer = False

    def locks_out_other_writers(self, dbapi_connection: Any) -> bool:
        """Whether this connection's open transaction keeps every other
        connection to the database from committing a write.
        """
        return False


class PostgreSQL(SequenceSQL):
    def _insert_missing_statement(self) -> Any:
        return (
            postgresql.insert(sequences)
            .values(name=_name, current=bindparam('current', type_=BigInteger))
            .on_conflict_do_nothing(index_elements=['name'])
        )

    def is_missing_table(self, error: BaseException) -> bool:
        return (getattr(error, 'sqlstate', None) or getattr(error, 'pgcode', None)) == '42P01'

    def upgrade(self, connection: Connection) -> None:
        # Transactional DDL: all or nothing, with the caller's transaction.
        table, name, current = (self.quote(n) for n in (sequences.name, 'name', 'current'))
        connection.exec_driver_sql(
            f'ALTER TABLE {table} ALTER COLUMN {name} TYPE {self.column_ddl("name")}, '
            f'ALTER COLUMN {current} TYPE {self.column_ddl("current")}, '
            f'ALTER COLUMN {current} SET NOT NULL'
        )


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

    def upgrade(self, connection: Connection) -> None:
        # SQLite cannot alter a column: rename the old table, create the new
        # one and copy the rows across. DDL is transactional in SQLite, but the
        # sqlite3 module only opens a transaction before DML, so open one
        # ourselves for the four statements to be all or nothing.
        if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql('BEGIN')
        table, old = self.quote(sequences.name), self.quote(sequences.name + '_mortar_rdb_3')
        name, current = self.quote('name'), self.quote('current')
        connection.exec_driver_sql(f'ALTER TABLE {table} RENAME TO {old}')
        connection.exec_driver_sql(str(CreateTable(sequences).compile(dialect=self.dialect)))
        connection.exec_driver_sql(
            f'INSERT INTO {table} ({name}, {current}) SELECT {name}, {current} FROM {old}'
        )
        connection.exec_driver_sql(f'DROP TABLE {old}')

    single_writer = True

    def locks_out_other_writers(self, dbapi_connection: Any) -> bool:
        # The sqlite3 module opens a transaction before the first write, and
        # an explicit BEGIN takes at least the shared lock that, in rollback
        # journal mode, keeps another connection from committing.
        return bool(getattr(dbapi_connection, 'in_transaction', False))


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
        return bool(error.args) and error.args[0] == 1146

    def _name_collation(self) -> str | None:
        return getattr(sequences.c.name.type.dialect_impl(self.dialect), 'collation', None)

    def outdated(self, connection: Connection) -> list[str]:
        differences = super().outdated(connection)
        # Reflection leaves out a collation that is the table's default.
        collation = connection.exec_driver_sql(
            'SELECT collation_name FROM information_schema.columns '
            'WHERE table_schema = DATABASE() AND table_name = %s AND column_name = %s',
            (sequences.name, 'name'),
        ).scalar()
        wanted = self._name_collation()
        if wanted is not None and collation != wanted:
            differences.append(f'names compare with {collation}, not {wanted}')
        return differences

    def upgrade(self, connection: Connection) -> None:
        # One ALTER TABLE: the server applies it whole or not at all (and
        # commits the transaction around it, as it does for any DDL).
        table, name, current = (self.quote(n) for n in (sequences.name, 'name', 'current'))
        connection.exec_driver_sql(
            f'ALTER TABLE {table} MODIFY {name} {self.column_ddl("name")} NOT NULL, '
            f'MODIFY {current} {self.column_ddl("current")} NOT NULL'
        )


_BY_DIALECT: dict[str, type[SequenceSQL]] = {
    'postgresql': PostgreSQL,
    'sqlite': SQLite,
    'mysql': MySQL,
    'mariadb': MySQL,
}


def sql_for(dialect: Dialect) -> SequenceSQL:
    """The sequence SQL for ``dialect`` (of a connected engine)."""
    return _BY_DIALECT.get(dialect.name, SequenceSQL)(dialect)
