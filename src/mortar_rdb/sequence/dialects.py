"""Every database's SQL, in one place: the ``sequences`` table's and native sequences'.

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
    CursorResult,
    Engine,
    Integer,
    Sequence,
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
from sqlalchemy.schema import CreateSequence, CreateTable, DropSequence
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter

from ..identifiers import identifier
from .errors import InvalidSequenceName, NativeOperationUnsupported, SequenceTableNotUpgradable
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
        return _error_code(error) == 1146

    # ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK
    _conflicts = frozenset({1205, 1213})

    def is_conflict(self, error: BaseException) -> bool:
        return _error_code(error) in self._conflicts

    def conflict_advice(self, error: BaseException) -> str:
        if _error_code(error) != 1205:
            return ''
        # Since MariaDB 10.5 a prepared XA transaction outlives its client.
        return (
            ' If the lock is never released, a two-phase (XA) transaction whose process died '
            'after XA PREPARE may hold it: list those with XA RECOVER and end each one with '
            "XA ROLLBACK 'xid' (or XA COMMIT 'xid' if the rest of it committed)."
        )


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


_SQLITE_BUSY = 5


_BY_DIALECT: dict[str, type[SequenceSQL]] = {
    'postgresql': PostgreSQL,
    'sqlite': SQLite,
    'mysql': MySQL,
    'mariadb': MySQL,
}


def sql_for(dialect: Dialect) -> SequenceSQL:
    """The sequence SQL for ``dialect`` (of a connected engine)."""
    return _BY_DIALECT.get(dialect.name, SequenceSQL)(dialect)


# Native sequences ----------------------------------------------------------


def _error_code(error: object) -> object:
    """The numeric code a MySQL/MariaDB or Oracle driver error carries."""
    arguments = getattr(error, 'args', None) or (None,)
    return getattr(arguments[0], 'code', arguments[0])


def _sqlstate(error: object) -> object:
    return getattr(error, 'sqlstate', None) or getattr(error, 'pgcode', None)


def _run(connection: Connection, sql: str) -> CursorResult[Any]:
    """Run ``sql`` as it is: the driver must not look for placeholders in it."""
    return connection.exec_driver_sql(sql, execution_options={'no_parameters': True})


class NativeSQL:
    """The SQL for one database's native sequences.

    A sequence name is an identifier here, not a value: it is quoted by the
    database's rules, never pasted in raw. ``next_value`` builds its
    statement once per name and runs it on a DB-API cursor, one round trip
    per value. This base serves any dialect SQLAlchemy compiles sequences
    for; the subclasses hold what differs.
    """

    #: Human name of the database, for messages.
    database = 'This database'
    #: CREATE SEQUENCE IF NOT EXISTS is understood.
    if_not_exists = False
    #: The longest name, in characters (or in UTF-8 bytes with ``limit_in_bytes``).
    name_limit: int | None = None
    limit_in_bytes = False

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.supported = bool(dialect.supports_sequences)
        self._next: dict[str, tuple[str, Any]] = {}

    def check_name(self, name: str) -> None:
        """Raise InvalidSequenceName if the database cannot hold ``name``."""
        limit = self.name_limit or self.dialect.max_identifier_length
        size = len(name.encode('utf-8')) if self.limit_in_bytes else len(name)
        if size > limit:
            unit = 'bytes of UTF-8' if self.limit_in_bytes else 'characters'
            raise InvalidSequenceName(
                f'The sequence name {name[:30]!r}... is {size} {unit} long; '
                f'{self.database} names a native sequence with at most {limit}.'
            )

    def sequence(self, name: str, start: int) -> Sequence:
        """The SQLAlchemy ``Sequence`` for ``name``: 64-bit, from ``start``."""
        return Sequence(identifier(name), start=start, minvalue=start if start < 1 else None, data_type=BigInteger)

    def create(self, name: str, start: int) -> CreateSequence:
        """The DDL that creates sequence ``name`` starting at ``start``."""
        return CreateSequence(self.sequence(name, start), if_not_exists=self.if_not_exists)

    def exists(self, connection: Connection, name: str) -> bool:
        """Whether ``connection`` sees a sequence called ``name``."""
        return bool(inspect(connection).has_sequence(name))

    def next_value(self, cursor: Any, name: str) -> int:
        """Take the next value of sequence ``name``: one statement."""
        try:
            sql, parameters = self._next[name]
        except KeyError:
            sql, parameters = self._next[name] = self._next_value_statement(name)
        cursor.execute(sql, parameters)
        return int(cursor.fetchone()[0])

    def _next_value_statement(self, name: str) -> tuple[str, Any]:
        sql = select(self.sequence(name, 1).next_value()).compile(dialect=self.dialect).string
        if self.dialect.paramstyle in ('format', 'pyformat'):
            # The compiler doubles a '%' in a quoted name for the driver to
            # undo; run without parameters, the driver sends the text as it
            # is (and skips its formatting, which costs more than the rest).
            sql = sql.replace('%%', '%')
        return sql, None

    def quote(self, name: str) -> str:
        """``name`` as a quoted identifier, for statements run without parameters."""
        quoted = str(self.dialect.identifier_preparer.quote_identifier(name))
        if self.dialect.paramstyle in ('format', 'pyformat'):
            # Undo the doubling of '%' meant for the driver's formatting.
            quoted = quoted.replace('%%', '%')
        return quoted

    def next_values(self, cursor: Any, name: str, count: int) -> list[int]:
        """Take ``count`` values of sequence ``name``, in the order taken.

        This base takes them one statement at a time; the databases that can
        take them in one statement override it.
        """
        return [self.next_value(cursor, name) for _ in range(count)]

    def current(self, cursor: Any, name: str) -> int:
        """The value just below the one ``nextval`` would return now."""
        statement = self._current_statement(name)
        cursor.execute(statement, None)
        return self._current_from(cursor.fetchone())

    def _current_on(self, connection: Connection, name: str) -> int:
        return self._current_from(_run(connection, self._current_statement(name)).fetchone())

    def _current_statement(self, name: str) -> str:
        raise NativeOperationUnsupported(
            f'mortar_rdb cannot read where a native sequence stands on {self.database}; '
            'use PostgreSQL or MariaDB, or query the database\'s catalog yourself.'
        )

    def _current_from(self, row: Any) -> int:
        return int(row[0])

    def restart(self, engine: Engine, name: str, value: int, force: bool, seconds: int) -> int | None:
        """Make ``value`` the next value of ``name``, on connections of its own.

        Without ``force``, nothing changes when ``value`` is at or below the
        sequence's current value, which is returned; None means it was done.
        Waiting for a lock gives up after ``seconds``.
        """
        raise NativeOperationUnsupported(
            f'mortar_rdb cannot restart a native sequence on {self.database}; '
            'use ALTER SEQUENCE ... RESTART WITH yourself.'
        )

    def drop(self, name: str) -> DropSequence:
        """The DDL that drops sequence ``name``."""
        return DropSequence(self.sequence(name, 1))

    def limit_lock_wait(self, connection: Connection, seconds: int) -> None:
        """Make ``connection``'s DDL give up after waiting ``seconds`` for a lock.

        Called at the start of the transaction that creates a sequence. A
        setting that outlives the transaction detaches the connection, so
        that it is closed rather than returned to the pool.
        """

    def is_lock_timeout(self, error: object) -> bool:
        """Whether a driver error says a lock was waited for too long."""
        return False

    def is_duplicate(self, error: object) -> bool:
        """Whether a driver error says the sequence was created meanwhile."""
        return False

    def is_missing(self, error: object) -> bool:
        """Whether a driver error says the sequence does not exist."""
        return False

    def is_exhausted(self, error: object) -> bool:
        """Whether a driver error says the sequence reached its largest value."""
        return False


class PostgreSQLNative(NativeSQL):
    """PostgreSQL: ``nextval`` takes the quoted name inside a string literal.

    Identifiers hold at most 63 bytes; longer ones would be truncated
    silently, so they are refused.
    """

    database = 'PostgreSQL'
    if_not_exists = True
    name_limit = 63
    limit_in_bytes = True

    def _next_value_statement(self, name: str) -> tuple[str, Any]:
        # Written out rather than compiled: SQLAlchemy 2.0 pastes the quoted
        # name into the string literal without escaping its quotes. The
        # literal is an E'' string, so it reads the same whatever
        # standard_conforming_strings says, and no parameters means the
        # driver sends it as it is, in the simple (cheapest) protocol.
        identifier = '"' + name.replace('"', '""') + '"'
        literal = "E'" + identifier.replace('\\', '\\\\').replace("'", "''") + "'"
        return f'SELECT nextval({literal})', None

    def next_values(self, cursor: Any, name: str, count: int) -> list[int]:
        # nextval once per row, in row order; other connections' calls may
        # fall in between, so the values are increasing but not always
        # contiguous.
        nextval, _ = self._next_value_statement(name)
        cursor.execute(f'{nextval} FROM generate_series(1, {int(count)})', None)
        return [int(row[0]) for row in cursor.fetchall()]

    def _current_statement(self, name: str) -> str:
        # The sequence's own row: is_called is false until the first nextval
        # (or after a restart), when last_value is the next value instead.
        return f'SELECT last_value, is_called FROM {self.quote(name)}'

    def _current_from(self, row: Any) -> int:
        last_value, is_called = row
        return int(last_value) if is_called else int(last_value) - 1

    def restart(self, engine: Engine, name: str, value: int, force: bool, seconds: int) -> int | None:
        # ALTER SEQUENCE .. RESTART locks nextval out until it commits. While
        # it holds that lock a second connection reads the value it replaces,
        # which nobody can move any more: check and change cannot be split.
        with engine.connect() as connection:
            with connection.begin() as transaction:
                self.limit_lock_wait(connection, seconds)
                _run(connection, f'ALTER SEQUENCE {self.quote(name)} RESTART WITH {int(value)}')
                if force:
                    return None
                with engine.connect() as other:
                    current = self._current_on(other, name)
                if value <= current:
                    transaction.rollback()
                    return current
        return None

    def limit_lock_wait(self, connection: Connection, seconds: int) -> None:
        connection.execute(select(func.set_config('lock_timeout', f'{seconds}s', True)))

    def is_lock_timeout(self, error: object) -> bool:
        return _sqlstate(error) == '55P03'

    def is_duplicate(self, error: object) -> bool:
        # 42P07: the relation exists; 23505: two CREATEs raced on the catalog.
        return _sqlstate(error) in ('42P07', '23505')

    def is_missing(self, error: object) -> bool:
        return _sqlstate(error) == '42P01'

    def is_exhausted(self, error: object) -> bool:
        return _sqlstate(error) == '2200H'


#: What MariaDB refuses at the end of a name ('Incorrect table name').
_ASCII_WHITESPACE = frozenset(' \t\n\r\v\f')


class MariaDBNative(NativeSQL):
    """MariaDB 10.3 and later; MySQL has no sequences (``supported`` is False).

    A sequence is a table: its name holds 64 characters of the Basic
    Multilingual Plane and cannot end with a space, tab or line break.
    """

    database = 'MariaDB'
    if_not_exists = True
    name_limit = 64

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)
        if not getattr(dialect, 'is_mariadb', False):
            self.database = 'MySQL'

    def check_name(self, name: str) -> None:
        super().check_name(name)
        if name[-1:] in _ASCII_WHITESPACE:
            raise InvalidSequenceName(
                f'{self.database} names cannot end with a space, tab or line break: {name!r}.'
            )
        if any(ord(character) > 0xFFFF for character in name):
            raise InvalidSequenceName(
                f'{self.database} names only hold characters of the Basic Multilingual Plane: {name!r}.'
            )

    def sequence(self, name: str, start: int) -> Sequence:
        # Always BIGINT; "AS BIGINT" is only understood from MariaDB 11.5.
        # No cache: a cached sequence's table only says where its cache ends,
        # so current() could not tell the last value handed out.
        return Sequence(identifier(name), start=start, minvalue=start if start < 1 else None, cache=0)

    def next_values(self, cursor: Any, name: str, count: int) -> list[int]:
        # NEXTVAL once per row of a generated series; other connections' calls
        # may fall in between, so the values are increasing but not always
        # contiguous.
        cursor.execute(
            f'WITH RECURSIVE series (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < {int(count)}) '
            f'SELECT NEXTVAL({self.quote(name)}) FROM series',
            None,
        )
        return [int(row[0]) for row in cursor.fetchall()]

    def _current_statement(self, name: str) -> str:
        # A sequence is a one-row table; without a cache, its
        # next_not_cached_value is the next value NEXTVAL returns.
        return f'SELECT next_not_cached_value - 1 FROM {self.quote(name)}'

    def restart(self, engine: Engine, name: str, value: int, force: bool, seconds: int) -> int | None:
        with engine.connect() as connection:
            if force:
                # DDL: it commits at once, whatever else the connection holds.
                self.limit_lock_wait(connection, seconds)
                _run(connection, f'ALTER SEQUENCE {self.quote(name)} RESTART WITH {int(value)}')
                return None
            # SETVAL only ever moves a sequence forwards, atomically: it
            # returns NULL, changing nothing, when value is below the next one.
            with connection.begin():
                done = _run(connection, f'SELECT SETVAL({self.quote(name)}, {int(value)}, 0)').scalar()
                return None if done is not None else self._current_on(connection, name)

    def limit_lock_wait(self, connection: Connection, seconds: int) -> None:
        # The default is a day; the setting lasts as long as the connection.
        connection.detach()
        connection.exec_driver_sql(f'SET SESSION lock_wait_timeout = {int(seconds)}')

    def is_lock_timeout(self, error: object) -> bool:
        return _error_code(error) == 1205

    def is_duplicate(self, error: object) -> bool:
        return _error_code(error) == 1050

    def is_missing(self, error: object) -> bool:
        # 4091: unknown sequence (NEXTVAL); 1146: no such table.
        return _error_code(error) in (4091, 1146)

    def is_exhausted(self, error: object) -> bool:
        return _error_code(error) == 4084


class OracleNative(NativeSQL):
    """Oracle: a quoted name cannot hold a double quote; NUMBER capped at 64 bits."""

    database = 'Oracle'
    limit_in_bytes = True

    def check_name(self, name: str) -> None:
        super().check_name(name)
        if '"' in name:
            raise InvalidSequenceName(f'Oracle names cannot contain a double quote: {name!r}.')

    def sequence(self, name: str, start: int) -> Sequence:
        return Sequence(identifier(name), start=start, minvalue=start if start < 1 else None, maxvalue=INT64_MAX)

    # DDL does not wait for locks on Oracle unless DDL_LOCK_TIMEOUT says so.

    def is_lock_timeout(self, error: object) -> bool:
        return _error_code(error) == 54

    def is_duplicate(self, error: object) -> bool:
        return _error_code(error) == 955

    def is_missing(self, error: object) -> bool:
        return _error_code(error) == 2289

    def is_exhausted(self, error: object) -> bool:
        return _error_code(error) == 8004


class MSSQLNative(NativeSQL):
    """SQL Server: a BIGINT sequence would start at -2**63 unless told otherwise."""

    database = 'SQL Server'

    def limit_lock_wait(self, connection: Connection, seconds: int) -> None:
        # The default is to wait for ever; the setting lasts as long as the connection.
        connection.detach()
        connection.exec_driver_sql(f'SET LOCK_TIMEOUT {int(seconds) * 1000}')

    def is_lock_timeout(self, error: object) -> bool:
        return '(1222)' in str(error)

    def is_duplicate(self, error: object) -> bool:
        return '(2714)' in str(error)

    def is_missing(self, error: object) -> bool:
        return '(208)' in str(error)

    def is_exhausted(self, error: object) -> bool:
        return '(11728)' in str(error)


class SQLiteNative(NativeSQL):
    database = 'SQLite'


_NATIVE_BY_DIALECT: dict[str, type[NativeSQL]] = {
    'postgresql': PostgreSQLNative,
    'mysql': MariaDBNative,
    'mariadb': MariaDBNative,
    'oracle': OracleNative,
    'mssql': MSSQLNative,
    'sqlite': SQLiteNative,
}


def native_sql_for(dialect: Dialect) -> NativeSQL:
    """The native sequence SQL for ``dialect`` (of a connected engine)."""
    return _NATIVE_BY_DIALECT.get(dialect.name, NativeSQL)(dialect)
