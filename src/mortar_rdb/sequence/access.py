"""Running sequence SQL inside the caller's transaction.

:func:`access` turns a session into the DB-API cursor of its connection,
cached for as long as the session's transaction lasts, so that a call to
``next()`` costs one statement and little else. It also reports the write to
the :mod:`transaction` package and turns driver errors into SQLAlchemy's
(or into our own, where we can say what to do).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Sequence, exc
from sqlalchemy.orm import Session, scoped_session

from ..identifiers import identifier
from ..transactions import mark_written
from .dialects import NativeSQL, SequenceSQL, native_sql_for, sql_for
from .errors import SequenceConflict, SequenceConnectionLost, SequenceRetryable, SequenceTableMissing
from .table import TableShape, read_shape, sequences

T = TypeVar('T')

_CACHE_KEY = 'mortar_rdb.sequence.access'
_NATIVE_CACHE_KEY = 'mortar_rdb.sequence.access.native'


class Backend:
    """What sequence code needs to know about one engine's database.

    It keeps no reference to the engine: it is the value of a dictionary
    weakly keyed by that engine, and a value holding its key would keep
    every engine alive for the life of the process.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        #: the database, for error messages (the URL, password hidden)
        self.where = repr(engine.url)
        self.sql: SequenceSQL = sql_for(engine.dialect)
        self._shape: TableShape | None = None
        self._native: NativeSQL | None = None

    @property
    def native(self) -> NativeSQL:
        """The SQL for this database's native sequences, built on first use."""
        if self._native is None:
            self._native = native_sql_for(self.dialect)
        return self._native

    def shape(self, connection: Connection) -> TableShape:
        """The sequences table's shape, read on first use."""
        if self._shape is None:
            shape = read_shape(connection, self.sql.integer_ceiling)
            if shape is None:
                raise SequenceTableMissing(self.where)
            self._shape = shape
        return self._shape

    def forget_shape(self) -> None:
        """Read the table again next time: it was dropped or altered."""
        self._shape = None


_backends: WeakKeyDictionary[Engine, Backend] = WeakKeyDictionary()


def backend_for(engine: Engine) -> Backend:
    backend = _backends.get(engine)
    if backend is None:
        backend = _backends[engine] = Backend(engine)
    return backend


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


class Runner:
    """A connection ready for sequence SQL: its DB-API cursor and dialect SQL."""

    __slots__ = ('connection', 'cursor', 'backend')

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        engine = connection.engine
        self.backend = backend_for(engine)
        if engine.echo or engine._has_events or connection._has_events:
            self.cursor: Any = _EventedCursor(connection)
        else:
            self.cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    @property
    def sql(self) -> SequenceSQL:
        return self.backend.sql

    def shape(self) -> TableShape:
        return self.run(self.backend.shape, self.connection)

    def run(
        self,
        operation: Callable[..., T],
        *arguments: Any,
        translate: Callable[[exc.StatementError], Exception] | None = None,
    ) -> T:
        """Run ``operation(*arguments)``, translating what the driver raises.

        ``translate`` replaces the translation for the ``sequences`` table.
        """
        try:
            return operation(*arguments)
        except SequenceTableMissing:
            raise  # ours already, though it is a DBAPIError too
        except exc.DBAPIError as error:
            raise (translate or self._translate)(error) from error
        except self.connection.dialect.loaded_dbapi.Error as error:
            wrapped = self._wrap(error)
            raise (translate or self._translate)(wrapped) from error

    def _wrap(self, error: Any) -> exc.StatementError:
        dialect = self.connection.dialect
        disconnected = dialect.is_disconnect(error, self.connection.connection.dbapi_connection, None)
        if disconnected:
            # As SQLAlchemy does for its own statements: the server probably
            # closed every pooled connection, so none of them is reused.
            self.connection.engine.pool._invalidate(self.connection.connection, error)
            self.connection.invalidate(error)
        return exc.DBAPIError.instance(
            None,
            None,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnected,
            dialect=dialect,
        )

    def _translate(self, error: exc.StatementError) -> Exception:
        return translate(error, self.backend)


def translate(error: exc.StatementError, backend: Backend) -> Exception:
    """Our own error for ``error`` where we can say more, else ``error``.

    Errors after which the whole transaction can safely run again become
    :class:`~mortar_rdb.sequence.errors.SequenceRetryable`, which the
    :mod:`transaction` package retries.
    """
    orig = error.orig
    if orig is None:
        return error
    transient = retryable(error, backend)
    if transient is not None:
        return transient
    backend.forget_shape()
    if backend.sql.is_missing_table(orig):
        return SequenceTableMissing(backend.where, orig)
    return error


def retryable(error: exc.StatementError, backend: Backend) -> SequenceRetryable | None:
    """The retryable error ``error`` amounts to, if running the transaction again is safe."""
    orig = error.orig
    if orig is None:
        return None
    if getattr(error, 'connection_invalidated', False):
        return SequenceConnectionLost(orig)
    if backend.sql.is_conflict(orig):
        return SequenceConflict(orig, backend.sql.conflict_advice(orig))
    return None


#: How sequence code asks a session for the connection of the ``sequences``
#: table: a session with several binds (``binds=``, by table or by mapper, or
#: its own ``get_bind()``) then picks the database that holds the table.
TABLE_BIND: dict[str, Any] = {'clause': sequences}


def native_bind(name: str) -> dict[str, Any]:
    """How to ask a session for the connection of native sequence ``name``."""
    return {'clause': Sequence(identifier(name)).next_value()}


class Access(Runner):
    """One session transaction's connection, ready for sequence SQL."""

    __slots__ = ('session', 'transaction', 'written')

    def __init__(self, session: Session, bind_arguments: dict[str, Any] = TABLE_BIND) -> None:
        super().__init__(session.connection(bind_arguments=bind_arguments))
        self.session = session
        self.transaction = session.get_transaction()
        self.written = False

    def wrote(self) -> None:
        """Record that this transaction changed the database."""
        if not self.written:
            mark_written(self.session)
            self.written = True


def access(session: Session | scoped_session[Session]) -> Access:
    """The cached :class:`Access` to the ``sequences`` table for ``session``'s current transaction."""
    if isinstance(session, scoped_session):
        session = session()
    cached: Access | None = session.info.get(_CACHE_KEY)
    if cached is not None and cached.transaction is session.get_transaction() and cached.transaction.is_active:  # type: ignore[union-attr]
        return cached
    fresh = session.info[_CACHE_KEY] = _begin(session, TABLE_BIND)
    return fresh


def native_access(session: Session | scoped_session[Session], name: str) -> Access:
    """The cached :class:`Access` to native sequence ``name`` for ``session``'s current transaction.

    The session's bind for the sequence (its ``get_bind()`` given a clause of
    it) chooses the database, once per name and transaction.
    """
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.get_transaction()
    cached: tuple[Any, dict[str, Access]] | None = session.info.get(_NATIVE_CACHE_KEY)
    current = cached is not None and transaction is not None and cached[0] is transaction and transaction.is_active
    by_name: dict[str, Access] = cached[1] if current else {}  # type: ignore[index]
    db = by_name.get(name)
    if db is None:
        db = by_name[name] = _begin(session, native_bind(name))
        session.info[_NATIVE_CACHE_KEY] = (session.get_transaction(), by_name)
    return db


def _begin(session: Session, bind_arguments: dict[str, Any]) -> Access:
    try:
        return Access(session, bind_arguments)
    except exc.DBAPIError as error:
        # Beginning the transaction failed: on MariaDB, XA START on a
        # connection that the server closed while it sat in the pool.
        bind = session.get_bind(**bind_arguments)
        raise translate(error, backend_for(bind if isinstance(bind, Engine) else bind.engine)) from error

