"""What sequence code knows about one engine, and the one place where driver errors become ours.

:class:`PerEngine`, one per engine for as long as the engine lives, holds
the dialect SQL chosen for it (:mod:`._dialects`), the shape of its
``sequences`` table once read, and :meth:`PerEngine.translated`, which turns
a driver error into one of :mod:`.errors` where we can say more.
"""
from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary, ref

from sqlalchemy import Engine, exc

from .._galera import is_galera
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
from ._table import TableShape
from .errors import (
    NativeSequenceExhausted,
    NativeSequenceMissing,
    SequenceChangeBlocked,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceInDoubt,
    SequenceNodeNotReady,
    SequenceServerReadOnly,
    SequenceStatementTimeout,
    SequenceTableMissing,
)

__all__ = ['PerEngine', 'per_engine']

_RETRYABLE = (Meaning.LOCK_WAIT, Meaning.CONFLICT)
_NATIVE_MISSING = (Meaning.NO_SUCH_TABLE, Meaning.NO_SUCH_SEQUENCE)


class PerEngine:
    """What sequence code knows about one engine's database, kept for the engine's life.

    It keeps no strong reference to the engine: it is the value of a
    dictionary weakly keyed by that engine, and a value holding its key
    would keep every engine alive for the life of the process.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        self._engine = ref(engine)
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
            engine = self._engine()
            interleaved = engine is not None and is_galera(engine)
            self._native = native_sql_for(self.dialect, interleaved)
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
        the row, retrying cannot help, and the error says so; where the
        database cannot tell (MariaDB), the conflict names those it found.
        """
        orig = error.orig
        if orig is None:
            return error
        what, advice = meaning(self.codes, orig)
        if what is Meaning.READ_ONLY:
            return SequenceServerReadOnly(self.where, orig)
        if what is Meaning.NODE_NOT_READY:
            return SequenceNodeNotReady(self.where, orig)
        if native is not None:
            if what in _NATIVE_MISSING:
                return NativeSequenceMissing(native, self.where)
            if what is Meaning.EXHAUSTED:
                return NativeSequenceExhausted(native)
        if getattr(error, 'connection_invalidated', False):
            return SequenceConnectionLost(orig, timed_out(orig))
        in_doubt: tuple[Any, ...] = ()
        if what is Meaning.LOCK_WAIT and engine is not None:
            found = self.in_doubt_holding(engine)
            holding = tuple(each for each in found if each.sequences)
            if holding:
                return SequenceInDoubt(self.where, holding, orig)
            # Where the database cannot tell which rows they hold (MariaDB),
            # they are named, but the error stays retryable: any other
            # transaction may be the one holding the row.
            in_doubt = tuple(each for each in found if each.sequences is None)
        if what in _RETRYABLE:
            return SequenceConflict(orig, advice, self.codes.locks if what is Meaning.LOCK_WAIT else None, in_doubt)
        if what is Meaning.STATEMENT_TIMEOUT:
            return SequenceStatementTimeout(self.where, orig)
        if native is None:
            self.forget_shape()
            if what is Meaning.NO_SUCH_TABLE:
                return SequenceTableMissing(self.where, orig)
        return error

    def translated_change(
        self, error: exc.StatementError, name: str, doing: str, seconds: int, engine: Engine | None = None
    ) -> Exception:
        """Our own error for ``error``, raised while ``doing`` native sequence ``name``
        ('Creating', 'Restarting', 'Dropping') on a connection of its own.

        Retrying the caller's transaction would not help there, so nothing
        becomes retryable; a lock waited for ``seconds`` says whose it may be
        and, given the ``engine``, names the transactions left in doubt that
        hold it.
        """
        what = self.meaning(error)
        if what is Meaning.READ_ONLY:
            return SequenceServerReadOnly(self.where, error.orig)
        if what is Meaning.NODE_NOT_READY:
            return SequenceNodeNotReady(self.where, error.orig)
        if what in _NATIVE_MISSING:
            return NativeSequenceMissing(name, self.where)
        if what is Meaning.EXHAUSTED:
            return NativeSequenceExhausted(name)
        if what is Meaning.LOCK_WAIT:
            if engine is None:
                return SequenceChangeBlocked(name, seconds, doing)
            in_doubt = tuple(self.in_doubt_holding(engine, name))
            return SequenceChangeBlocked(name, self.lock_wait(engine, seconds), doing, in_doubt)
        return error

    def lock_wait(self, engine: Engine, seconds: float) -> float:
        """How long native DDL on ``engine`` waits for a lock when bounded to ``seconds``:
        less where the engine's connections are set to give up sooner (the command line's)."""
        try:
            with engine.connect() as connection:
                configured = self.native.lock_wait(connection)
        except Exception:
            configured = None  # finding out must not hide the error being translated
        return min(seconds, configured) if configured else seconds

    def in_doubt_holding(self, engine: Engine, native: str | None = None) -> list[Any]:
        """The transactions in doubt that hold (or may hold) a sequence's row, or
        a lock on ``native`` sequence, looked up on a connection of its own.

        Only called after a lock wait timed out, when the caller's own
        transaction may be unusable. Finding out must not hide the error
        being translated, so a failure to look finds nothing.
        """
        sql = in_doubt_sql_for(self.dialect)
        if not sql.supported:
            return []
        try:
            with engine.connect() as connection:
                if native is not None:
                    return sql.holding_native(connection, native)
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
