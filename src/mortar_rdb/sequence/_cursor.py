"""Running sequence SQL: a connection's DB-API cursor with the named sequence operations.

- :class:`ConnectionCursor`, one per use of a connection: its DB-API cursor
  and the named operations (:meth:`~ConnectionCursor.increment`,
  :meth:`~ConnectionCursor.current`, :meth:`~ConnectionCursor.insert_missing`,
  ...), each one statement of the dialect's SQL, raising what
  :meth:`~._per_engine.PerEngine.translated` makes of a driver error.
- :class:`SessionTransactionCursor`, one per session transaction (kept in
  ``session.info`` until the transaction ends, see :mod:`._sessions`): a
  :class:`ConnectionCursor` on the session's connection, which also tells
  :mod:`transaction` that the session wrote.

So ``next()`` is: the implementation asks :func:`._sessions.session_cursor`
for the transaction's cursor, calls ``increment``, which runs one statement.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.orm import Session

from ..transactions import mark_written
from ._per_engine import per_engine
from ._table import TableShape, read_shape
from .errors import SequenceNodeNotReady, SequenceTableMissing

__all__ = ['ConnectionCursor', 'SessionTransactionCursor']


class _EventedCursor:
    """A cursor look-alike that runs through the SQLAlchemy connection.

    Used when the engine echoes SQL or has execution events, so that those
    still see sequence statements.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._result: Any = None

    def execute(self, sql: str, parameters: Any = None) -> None:
        if parameters is None:
            # Like a DB-API cursor given no parameters: the driver must not
            # look for placeholders (a '%' in a quoted name is just a '%').
            self._result = self._connection.exec_driver_sql(sql, execution_options={'no_parameters': True})
        else:
            self._result = self._connection.exec_driver_sql(sql, parameters)

    def fetchone(self) -> Any:
        return self._result.fetchone()

    def fetchall(self) -> Any:
        return self._result.fetchall()

    @property
    def rowcount(self) -> int:
        return int(self._result.rowcount)

    @property
    def lastrowid(self) -> Any:
        return self._result.lastrowid


class ConnectionCursor:
    """A connection's DB-API cursor with the named sequence operations, for one use of the connection.

    Each operation is one statement (``increment`` without RETURNING, two)
    and raises what :meth:`PerEngine.translated` makes of a driver error.
    """

    __slots__ = ('connection', 'cursor', 'engine', 'table')

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        engine = connection.engine
        self.engine = per_engine(engine)
        self.table = self.engine.table
        if engine.echo or engine._has_events or connection._has_events:
            self.cursor: Any = _EventedCursor(connection)
        else:
            self.cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    # The sequences table ----------------------------------------------------

    def shape(self) -> TableShape:
        """The sequences table's shape, read once per engine (SequenceTableMissing if there is none)."""
        shape = self.engine.known_shape
        if shape is None:
            try:
                shape = read_shape(self.connection, self.table.integer_ceiling)
            except exc.DBAPIError as error:
                raise self._translated(error) from error
            if shape is None:
                raise SequenceTableMissing(self.engine.where)
            self.engine.known_shape = shape
        return shape

    def increment(self, name: str, step: int) -> int | None:
        """Add ``step`` to ``name`` and return the new value; None when no row changed
        (it is missing, or the column cannot hold the result)."""
        shape = self.engine.known_shape or self.shape()
        try:
            return self.table.increment(self.cursor, name, step, shape.ceiling - step)
        except self.engine.driver_errors as error:
            raise self._translated(error) from error

    def current(self, name: str) -> int | None:
        """The stored value of ``name``, or None when it has no row; takes no lock."""
        try:
            return self.table.current(self.cursor, name)
        except self.engine.driver_errors as error:
            raise self._translated(error) from error

    def insert_missing(self, name: str, current: int) -> None:
        """Add the row of ``name`` holding ``current``, unless there is one."""
        try:
            self.table.insert_missing(self.cursor, name, current)
        except self.engine.driver_errors as error:
            raise self._translated(error) from error

    def delete(self, name: str) -> bool:
        """Delete the row of ``name``; whether there was one."""
        try:
            return self.table.delete(self.cursor, name)
        except self.engine.driver_errors as error:
            raise self._translated(error) from error

    def restart(self, name: str, current: int, force: bool) -> bool:
        """Store ``current`` for ``name`` (without ``force``, only moving forwards); whether it changed."""
        try:
            return self.table.restart(self.cursor, name, current, force)
        except self.engine.driver_errors as error:
            raise self._translated(error) from error

    def rows(self) -> list[tuple[str, int | None]]:
        """Every row's name and stored value (None for NULL), in no particular order."""
        try:
            return self.table.all(self.cursor)
        except self.engine.driver_errors as error:
            raise self._translated(error) from error

    def wrote(self) -> None:
        """Nothing to record: whoever holds a connection of its own commits it."""

    def commit(self) -> None:
        """Commit the connection's DB-API transaction."""
        try:
            self.connection.connection.commit()
        except self.engine.driver_errors as error:
            raise self._translated(error) from error

    # Native sequences -------------------------------------------------------

    def native_next(self, name: str) -> int:
        """Take the next value of native sequence ``name``."""
        try:
            return self.engine.native.next_value(self.cursor, name)
        except self.engine.driver_errors as error:
            raise self._translated(error, name) from error

    def native_next_many(self, name: str, count: int) -> list[int]:
        """Take ``count`` values of native sequence ``name``, in one statement where the database can."""
        try:
            return self.engine.native.next_values(self.cursor, name, count)
        except self.engine.driver_errors as error:
            raise self._translated(error, name) from error

    def native_current(self, name: str) -> int:
        """The value just below the one native sequence ``name`` would hand out next."""
        try:
            return self.engine.native.current(self.cursor, name)
        except self.engine.driver_errors as error:
            raise self._translated(error, name) from error

    # Errors -----------------------------------------------------------------

    def _translated(self, error: Exception, native: str | None = None) -> Exception:
        if not isinstance(error, exc.StatementError):
            error = self._wrapped(error)
        ours = self.engine.translated(error, native, self.connection.engine)
        if isinstance(ours, SequenceNodeNotReady):
            # The node refuses every statement, ROLLBACK too, so ending the
            # transaction on this connection would raise the driver's bare
            # error in place of ours. The connection is of no further use:
            # closed, its transaction ends on the server.
            self.connection.invalidate(error.orig)
        return ours

    def _wrapped(self, error: Any) -> exc.StatementError:
        """A driver error raised by our own cursor, as SQLAlchemy would have wrapped it."""
        connection = self.connection
        dialect = connection.dialect
        disconnected = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
        if disconnected:
            # As SQLAlchemy does for its own statements: the server probably
            # closed every pooled connection, so none of them is reused.
            connection.engine.pool._invalidate(connection.connection, error)
            connection.invalidate(error)
        return exc.DBAPIError.instance(
            None,
            None,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnected,
            dialect=dialect,
        )


class SessionTransactionCursor(ConnectionCursor):
    """The cursor of one session transaction's connection, kept until that transaction ends."""

    __slots__ = ('session', 'transaction', 'written')

    def __init__(self, session: Session, bind_arguments: dict[str, Any]) -> None:
        super().__init__(session.connection(bind_arguments=bind_arguments))
        self.session = session
        self.transaction = session.get_transaction()
        self.written = False

    def wrote(self) -> None:
        """Record that this transaction changed the database, so that :mod:`transaction` commits it."""
        if not self.written:
            mark_written(self.session)
            self.written = True

    def is_current(self, session: Session) -> bool:
        transaction = self.transaction
        return transaction is session.get_transaction() and transaction.is_active  # type: ignore[union-attr]

