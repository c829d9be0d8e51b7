"""Running sequence SQL, and the one place where driver errors become ours.

Three objects, each named for how long it lives:

- :class:`PerEngine`, one per engine for as long as the engine lives: the
  dialect SQL chosen for it (:mod:`._dialects`), the shape of its
  ``sequences`` table once read, and :meth:`PerEngine.translated`, which
  turns a driver error into one of :mod:`.errors` where we can say more.
- :class:`ConnectionCursor`, one per use of a connection: its DB-API cursor
  and the named operations (:meth:`~ConnectionCursor.increment`,
  :meth:`~ConnectionCursor.current`, :meth:`~ConnectionCursor.insert_missing`,
  ...), each one statement of the dialect's SQL.
- :class:`SessionTransactionCursor`, one per session transaction (kept in
  ``session.info`` until the transaction ends): a :class:`ConnectionCursor`
  on the session's connection for the ``sequences`` table (or for one native
  sequence), which also tells :mod:`transaction` that the session wrote.

So ``next()`` is: the implementation asks :func:`session_cursor` for the
transaction's cursor, calls ``increment``, which runs one statement.
"""
from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Sequence, exc
from sqlalchemy.orm import Session, scoped_session

from .._identifiers import identifier
from ..transactions import mark_written
from ._dialects import (
    Meaning,
    NativeSQL,
    TableUpgrade,
    codes_for,
    in_doubt_sql_for,
    meaning,
    native_sql_for,
    table_sql_for,
    timed_out,
    upgrade_for,
)
from ._table import TableShape, read_shape, sequences
from .errors import (
    NativeSequenceExhausted,
    NativeSequenceMissing,
    SequenceChangeBlocked,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceInDoubt,
    SequenceServerReadOnly,
    SequenceStatementTimeout,
    SequenceTableMissing,
)

__all__ = [
    'ConnectionCursor',
    'PerEngine',
    'SessionTransactionCursor',
    'TABLE_BIND',
    'native_session_cursor',
    'per_engine',
    'refuse_async',
    'refuse_non_session',
    'session_cursor',
]

AnySession = Session | scoped_session[Session]

#: How sequence code asks a session for the connection of the ``sequences``
#: table: a session with several binds (``binds=``, by table or by mapper, or
#: its own ``get_bind()``) then picks the database that holds the table.
TABLE_BIND: dict[str, Any] = {'clause': sequences}


def native_bind(name: str) -> dict[str, Any]:
    """How to ask a session for the connection of native sequence ``name``."""
    return {'clause': Sequence(identifier(name)).next_value()}


_RETRYABLE = (Meaning.LOCK_WAIT, Meaning.CONFLICT)
_NATIVE_MISSING = (Meaning.NO_SUCH_TABLE, Meaning.NO_SUCH_SEQUENCE)


class PerEngine:
    """What sequence code knows about one engine's database, kept for the engine's life.

    It keeps no reference to the engine: it is the value of a dictionary
    weakly keyed by that engine, and a value holding its key would keep
    every engine alive for the life of the process.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        self.dialect = dialect
        #: the database, for error messages (the URL, password hidden)
        self.where = repr(engine.url)
        self.table = table_sql_for(dialect)
        self.codes = codes_for(dialect.name)
        #: the table's shape, once read; None until then, and after a change
        self.known_shape: TableShape | None = None
        self._native: NativeSQL | None = None
        self.driver_errors = (exc.DBAPIError, dialect.loaded_dbapi.Error)

    @property
    def native(self) -> NativeSQL:
        """The SQL of this database's native sequences, built on first use."""
        if self._native is None:
            self._native = native_sql_for(self.dialect)
        return self._native

    @property
    def upgrade(self) -> TableUpgrade:
        """How to upgrade this database's sequences table (rarely needed, so not kept)."""
        return upgrade_for(self.dialect)

    def forget_shape(self) -> None:
        """Read the table's shape again next time: it was dropped or altered."""
        self.known_shape = None

    def meaning(self, error: exc.StatementError) -> Meaning | None:
        """What the driver error inside ``error`` means (see :mod:`._dialects.codes`)."""
        return meaning(self.codes, error.orig)[0]

    def translated(
        self, error: exc.StatementError, native: str | None = None, engine: Engine | None = None
    ) -> Exception:
        """Our own error for ``error`` where we can say more, else ``error``.

        ``native`` names the native sequence the statement used; otherwise it
        used the ``sequences`` table. Errors after which the whole transaction
        can safely run again become a
        :class:`~mortar_rdb.sequence.errors.SequenceRetryable`, which the
        :mod:`transaction` package retries. Given the ``engine``, a lock wait
        that timed out is looked into: if a transaction left in doubt holds
        the row, retrying cannot help, and the error says so.
        """
        orig = error.orig
        if orig is None:
            return error
        what, advice = meaning(self.codes, orig)
        if what is Meaning.READ_ONLY:
            return SequenceServerReadOnly(self.where, orig)
        if native is not None:
            if what in _NATIVE_MISSING:
                return NativeSequenceMissing(native, self.where)
            if what is Meaning.EXHAUSTED:
                return NativeSequenceExhausted(native)
        if getattr(error, 'connection_invalidated', False):
            return SequenceConnectionLost(orig, timed_out(orig))
        if what is Meaning.LOCK_WAIT and engine is not None:
            in_doubt = self.in_doubt_holding(engine)
            if in_doubt:
                return SequenceInDoubt(self.where, tuple(in_doubt), orig)
        if what in _RETRYABLE:
            return SequenceConflict(orig, advice, self.codes.locks if what is Meaning.LOCK_WAIT else None)
        if what is Meaning.STATEMENT_TIMEOUT:
            return SequenceStatementTimeout(self.where, orig)
        if native is None:
            self.forget_shape()
            if what is Meaning.NO_SUCH_TABLE:
                return SequenceTableMissing(self.where, orig)
        return error


    def translated_change(self, error: exc.StatementError, name: str, doing: str, seconds: int) -> Exception:
        """Our own error for ``error``, raised while ``doing`` native sequence ``name``
        ('Creating', 'Restarting', 'Dropping') on a connection of its own.

        Retrying the caller's transaction would not help there, so nothing
        becomes retryable; a lock waited for ``seconds`` says whose it may be.
        """
        what = self.meaning(error)
        if what is Meaning.READ_ONLY:
            return SequenceServerReadOnly(self.where, error.orig)
        if what in _NATIVE_MISSING:
            return NativeSequenceMissing(name, self.where)
        if what is Meaning.EXHAUSTED:
            return NativeSequenceExhausted(name)
        if what is Meaning.LOCK_WAIT:
            return SequenceChangeBlocked(name, seconds, doing)
        return error

    def in_doubt_holding(self, engine: Engine) -> list[Any]:
        """The transactions in doubt that hold (or may hold) a sequence's row, looked up on a connection of its own.

        Only called after a lock wait timed out, when the caller's own
        transaction may be unusable. Finding out must not hide the error
        being translated, so a failure to look finds nothing.
        """
        sql = in_doubt_sql_for(self.dialect)
        if not sql.supported:
            return []
        try:
            with engine.connect() as connection:
                return sql.holding_sequences(connection)
        except Exception:
            return []


_per_engine: WeakKeyDictionary[Engine, PerEngine] = WeakKeyDictionary()


def per_engine(engine: Engine) -> PerEngine:
    """The :class:`PerEngine` of ``engine``, made on first use."""
    found = _per_engine.get(engine)
    if found is None:
        found = _per_engine[engine] = PerEngine(engine)
    return found


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
        return self.engine.translated(error, native, self.connection.engine)

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


_TABLE_KEY = 'mortar_rdb.sequence.cursor'
_NATIVE_KEY = 'mortar_rdb.sequence.cursor.native'


def session_cursor(session: AnySession) -> SessionTransactionCursor:
    """The cursor on ``session``'s connection for the ``sequences`` table, for its current transaction."""
    if isinstance(session, scoped_session):
        session = session()
    try:
        cached: SessionTransactionCursor | None = session.info.get(_TABLE_KEY)
    except AttributeError:
        refuse_non_session(session)
        raise
    # is_current(), written out: this is every next()'s path.
    if cached is not None and cached.transaction is session.get_transaction() and cached.transaction.is_active:  # type: ignore[union-attr]
        return cached
    fresh = session.info[_TABLE_KEY] = _begin(session, TABLE_BIND)
    return fresh


def native_session_cursor(session: AnySession, name: str) -> SessionTransactionCursor:
    """The cursor on ``session``'s connection for native sequence ``name``, for its current transaction.

    The session's bind for the sequence (its ``get_bind()`` given a clause of
    it) chooses the database, once per name and transaction.
    """
    if isinstance(session, scoped_session):
        session = session()
    try:
        by_name: dict[str, SessionTransactionCursor] = session.info.get(_NATIVE_KEY) or {}
    except AttributeError:
        refuse_non_session(session)
        raise
    cached = by_name.get(name)
    if cached is not None and cached.is_current(session):
        return cached
    if any(not cursor.is_current(session) for cursor in by_name.values()):
        by_name = {}
    fresh = by_name[name] = _begin(session, native_bind(name))
    session.info[_NATIVE_KEY] = by_name
    return fresh


def refuse_async(session: object) -> None:
    """Raise TypeError if ``session`` belongs to SQLAlchemy's asyncio extension.

    Its methods return coroutines, which the sync API would fail on with a
    puzzling AttributeError (and a never-awaited warning). Looked up by
    module, so that nothing imports the asyncio extension (nor needs
    greenlet) unless the application does.
    """
    if type(session).__module__.startswith('sqlalchemy.ext.asyncio'):
        raise TypeError(
            f'mortar_rdb.sequence was given an {type(session).__name__}, which the sync API cannot use: '
            'in asyncio code use mortar_rdb.sequence.asyncio instead, for example '
            '"await register_sequence(name, async_session)" and '
            '"await get_async_sequence(name).next(async_session)".'
        )


def refuse_non_session(session: object) -> None:
    """Raise TypeError, saying what to pass, if ``session`` is not a SQLAlchemy ``Session``.

    An engine, a connection or None would otherwise fail deep inside with an
    AttributeError that names none of them. Only called off the hot path:
    where a cached cursor is found, the session was checked when it was made.
    """
    refuse_async(session)
    if not isinstance(session, (Session, scoped_session)):
        raise TypeError(
            f'mortar_rdb.sequence needs a SQLAlchemy Session (or scoped_session) here, not {session!r}: '
            'pass get_session(), or a Session(engine) of your own.'
        )


def _begin(session: Session, bind_arguments: dict[str, Any]) -> SessionTransactionCursor:
    refuse_non_session(session)
    try:
        return SessionTransactionCursor(session, bind_arguments)
    except exc.DBAPIError as error:
        # Beginning the transaction failed: on MariaDB, XA START on a
        # connection that the server closed while it sat in the pool.
        bind = session.get_bind(**bind_arguments)
        raise per_engine(bind if isinstance(bind, Engine) else bind.engine).translated(error) from error
