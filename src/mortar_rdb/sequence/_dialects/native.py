"""Native sequences' SQL, one class per database: ``CREATE SEQUENCE``, ``nextval`` and friends.

A sequence name is an identifier here, not a value: it is quoted by the
database's rules, never pasted in raw. What their driver errors mean is in
:mod:`.codes`.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, CursorResult, Engine, Sequence, func, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateSequence, DropSequence

from ..._identifiers import identifier
from .._table import INT64_MAX
from ..errors import InvalidSequenceName, NativeOperationUnsupported

__all__ = ['NativeSQL', 'native_sql_for']


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

    def __init__(self, dialect: Dialect, interleaved: bool = False) -> None:
        self.dialect = dialect
        self.supported = bool(dialect.supports_sequences)
        #: The server is one of several that all hand out values of the
        #: same sequence (a Galera node): each must take its own share.
        self.interleaved = interleaved
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

    def repeats_across_nodes(self, connection: Connection, name: str) -> int | None:
        """On an interleaved server, the increment of existing sequence ``name``
        if it would let two nodes hand out the same value; None when it is safe."""
        return None

    def offsets_move(self, connection: Connection) -> bool:
        """On an interleaved server, whether the nodes' offsets are renumbered
        when one leaves or joins (a value can then be handed out twice)."""
        return False

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
        """Make ``connection``'s DDL give up after waiting ``seconds`` for a lock,
        unless it is set to give up sooner already (as the command line's are).

        Called at the start of the transaction that creates a sequence. A
        setting that outlives the transaction detaches the connection, so
        that it is closed rather than returned to the pool.
        """
        current = self.lock_wait(connection)
        if current is None or current > seconds:
            self._set_lock_wait(connection, seconds)

    def lock_wait(self, connection: Connection) -> float | None:
        """How many seconds ``connection``'s DDL waits for a lock; None when unbounded or unknown."""
        return None

    def _set_lock_wait(self, connection: Connection, seconds: int) -> None:
        pass


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

    def lock_wait(self, connection: Connection) -> float | None:
        milliseconds = _run(connection, "SELECT setting::bigint FROM pg_settings WHERE name = 'lock_timeout'").scalar()
        return milliseconds / 1000 if milliseconds else None

    def _set_lock_wait(self, connection: Connection, seconds: int) -> None:
        connection.execute(select(func.set_config('lock_timeout', f'{seconds}s', True)))


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

    def __init__(self, dialect: Dialect, interleaved: bool = False) -> None:
        super().__init__(dialect, interleaved)
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
        # On Galera, INCREMENT BY 0 makes each node step by its
        # auto_increment_increment from its own auto_increment_offset, as
        # MariaDB documents: nodes never hand out the same value. With any
        # other increment every node counts alike, and they do.
        return Sequence(
            identifier(name),
            start=start,
            minvalue=start if start < 1 else None,
            cache=0,
            increment=0 if self.interleaved else None,
        )

    def repeats_across_nodes(self, connection: Connection, name: str) -> int | None:
        if not self.interleaved:
            return None
        increment = int(_run(connection, f'SELECT increment FROM {self.quote(name)}').scalar_one())
        return None if increment == 0 else increment

    def offsets_move(self, connection: Connection) -> bool:
        # Galera's default: each node's auto_increment_offset is its place
        # among the nodes up, renumbered as they come and go. Around such a
        # change two nodes can take the same value of an INCREMENT BY 0
        # sequence (our node-kill test saw it); fixed offsets cannot.
        return self.interleaved and bool(_run(connection, 'SELECT @@wsrep_auto_increment_control').scalar())

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

    def lock_wait(self, connection: Connection) -> float | None:
        seconds = _run(connection, 'SELECT @@SESSION.lock_wait_timeout').scalar()
        return float(seconds) if seconds else None

    def _set_lock_wait(self, connection: Connection, seconds: int) -> None:
        # The default is a day; the setting lasts as long as the connection.
        connection.detach()
        connection.exec_driver_sql(f'SET SESSION lock_wait_timeout = {int(seconds)}')


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


class MSSQLNative(NativeSQL):
    """SQL Server: a BIGINT sequence would start at -2**63 unless told otherwise."""

    database = 'SQL Server'

    def _set_lock_wait(self, connection: Connection, seconds: int) -> None:
        # The default is to wait for ever; the setting lasts as long as the connection.
        connection.detach()
        connection.exec_driver_sql(f'SET LOCK_TIMEOUT {int(seconds) * 1000}')


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


def native_sql_for(dialect: Dialect, interleaved: bool = False) -> NativeSQL:
    """The native sequence SQL for ``dialect`` (of a connected engine);
    ``interleaved`` on a Galera node, where several servers take values."""
    return _NATIVE_BY_DIALECT.get(dialect.name, NativeSQL)(dialect, interleaved)
