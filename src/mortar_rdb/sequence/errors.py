"""What goes wrong with sequences, each error saying what to do about it."""
from __future__ import annotations

from sqlalchemy import exc
from transaction.interfaces import TransientError
from zope.interface.interfaces import ComponentLookupError


class SequenceError(Exception):
    """Base class of every error raised by :mod:`mortar_rdb.sequence`."""

    # The arguments the error was made from, so that it pickles (a worker
    # process's error must reach its parent intact).
    _made_from: tuple[object, ...] = ()

    def __reduce__(self) -> str | tuple[object, ...]:
        if self._made_from:
            return (type(self), self._made_from)
        return super().__reduce__()


#: What :func:`~mortar_rdb.sequence.get_sequence` raises for an unknown
#: name: zope's own ``ComponentLookupError``, as in mortar_rdb 3.0, so that
#: tests checking its exact type keep passing. The name stays for code that
#: catches it.
SequenceNotRegistered = ComponentLookupError


def not_registered(name: str) -> ComponentLookupError:
    """The error for a sequence name nobody registered, saying how to register it."""
    return ComponentLookupError(
        f'No sequence is registered with the name {name!r}: '
        f'call register_sequence({name!r}, session) during configuration.'
    )


class InvalidSequenceName(SequenceError, ValueError, TypeError):
    """A sequence name is not a string the database can store verbatim."""


class SequenceTableMissing(SequenceError, exc.ProgrammingError, exc.OperationalError):
    """The ``sequences`` table does not exist in the database.

    It is also the SQLAlchemy error that the database's driver raises for a
    missing table (``ProgrammingError`` on PostgreSQL and MariaDB,
    ``OperationalError`` on SQLite), so code written for mortar_rdb 3.0 that
    catches either around ``register_sequence`` still catches it. The
    driver's error, when there was one, is :attr:`orig`.
    """

    def __init__(self, where: str, orig: BaseException | None = None) -> None:
        Exception.__init__(self, where)
        self.where = where
        # What SQLAlchemy's handlers of a ProgrammingError may look at.
        self.orig = orig  # type: ignore[assignment]
        self.statement = None
        self.params = None
        self.ismulti = None
        self.hide_parameters = False
        self.connection_invalidated = False
        self.detail = []
        self._made_from = (where,)

    def __str__(self) -> str:
        return (
            f'The sequences table does not exist in {self.where}: create it with '
            'mortar_rdb.sequence.generic.sequences.create(engine), '
            'mortar_rdb.sequence.generic.source in your Config, '
            'or "python -m mortar_rdb.sequence create-table --url URL".'
        )

    def __reduce__(self) -> str | tuple[object, ...]:
        return (type(self), (self.where,))


class SequenceMissing(SequenceError, LookupError):
    """A registered sequence has no row in the ``sequences`` table any more.

    Starting it again from the beginning would hand out numbers that were
    handed out before, so this is an error rather than a restart.
    """

    def __init__(self, name: str, where: str) -> None:
        super().__init__(
            f'Sequence {name!r} has no row in the sequences table of {where}; it '
            'was deleted or never registered in this database. Register it again '
            'with register_sequence() only if restarting its numbering is safe.'
        )
        self.name = name
        self._made_from = (name, where)


class SequenceOverflow(SequenceError, OverflowError):
    """The next value would not fit the ``current`` column."""

    def __init__(self, name: str, ceiling: int) -> None:
        fix = (
            'widen the column with "python -m mortar_rdb.sequence upgrade-table"'
            if ceiling < 2**63 - 1
            else 'start a new sequence'
        )
        super().__init__(
            f'Sequence {name!r} has reached {ceiling}, the largest value its '
            f'column holds; nothing was handed out. To go on, {fix}.'
        )
        self.name = name
        self.ceiling = ceiling
        self._made_from = (name, ceiling)


class InvalidSequenceValue(SequenceError, ValueError):
    """A start, restart value or count is not an integer the sequence can take."""


class SequenceRestartRefused(SequenceError, ValueError):
    """A restart would move a sequence backwards without ``force``."""

    def __init__(self, name: str, current: int, value: int) -> None:
        super().__init__(
            f'Sequence {name!r} has reached {current}; restarting it at {value} could '
            'hand out the same numbers again, so nothing was changed. Pass force=True '
            '(--force on the command line) if those numbers are really free.'
        )
        self.name = name
        self.current = current
        self.value = value
        self._made_from = (name, current, value)


class SequenceTableNotUpgradable(SequenceError):
    """The sequences table cannot be upgraded as it stands."""


class NoSuchSequence(SequenceError, LookupError):
    """A command named a sequence that the database does not hold."""

    def __init__(self, name: str, where: str, options: str = '') -> None:
        super().__init__(
            f'There is no sequence named {name!r} in {where}: see the names with the '
            f'"list{options}" command, or create it with "next {name}{options}".'
        )
        self.name = name
        self._made_from = (name, where, options)


class BlockReservationBlocked(SequenceError):
    """A pooled sequence must write its row on its reservation connection, and
    the caller's own transaction holds the lock that doing so would wait for."""

    def __init__(self, name: str, method: str = 'next') -> None:
        if method == 'next':
            needs, advice = 'needs a new block of values', 'take values'
        else:
            needs, advice = f'must write its row for {method}()', f'call {method}()'
        super().__init__(
            f'Pooled sequence {name!r} {needs}, but the transaction '
            f'of the session passed to {method}() holds the database write lock that this '
            f'would wait for: {advice} before that transaction writes, or keep the '
            'sequences table in another database with register_sequence(..., engine=...).'
        )
        self.name = name
        self.method = method
        self._made_from = (name, method)


class SharedConnectionPool(SequenceError, ValueError):
    """A pooled sequence was given an engine that cannot give it a connection of its own."""

    def __init__(self, name: str, pool: str) -> None:
        super().__init__(
            f'Pooled sequence {name!r} reserves blocks on a connection of its own, but '
            f'this engine\'s {pool} hands every caller the same connection (an in-memory '
            'SQLite database?): use a database file, or pass engine= with an ordinary pool.'
        )
        self.name = name
        self.pool = pool
        self._made_from = (name, pool)


class NoNativeSequences(SequenceError, NotImplementedError):
    """The database has no native sequences for :mod:`mortar_rdb.sequence.native`."""

    def __init__(self, database: str) -> None:
        super().__init__(
            f'{database} has no native sequences: register this sequence with '
            'impl=mortar_rdb.sequence.generic.SequenceImplementation (gapless) or '
            'impl=mortar_rdb.sequence.pooled.SequenceImplementation (fast), which work there.'
        )
        self.database = database
        self._made_from = (database,)


class NativeOperationUnsupported(SequenceError, NotImplementedError):
    """mortar_rdb cannot do this to a native sequence on this database."""


class NotASequence(SequenceError):
    """Something other than a sequence already has the name a native sequence needs."""

    def __init__(self, name: str, where: str) -> None:
        super().__init__(
            f'{where} already has a table, view or other object called {name!r}, '
            'so no native sequence can take that name: choose another name.'
        )
        self.name = name
        self._made_from = (name, where)


class SequenceCreationBlocked(SequenceError):
    """Creating a native sequence waited too long for a lock."""

    def __init__(self, name: str, seconds: int) -> None:
        super().__init__(
            f'Creating the native sequence {name!r} waited {seconds}s for a lock held by another '
            f'transaction, perhaps your own session\'s if it used something called {name!r}: '
            'end that transaction (or create the sequence beforehand) and register again.'
        )
        self.name = name
        self._made_from = (name, seconds)


class SequenceChangeBlocked(SequenceError):
    """Restarting or dropping a native sequence waited too long for a lock."""

    def __init__(self, name: str, seconds: int, doing: str) -> None:
        super().__init__(
            f'{doing} the native sequence {name!r} waited {seconds}s for a lock held by a '
            'transaction that used it and has not ended, perhaps your own session\'s: end that '
            'transaction and try again.'
        )
        self.name = name
        self._made_from = (name, seconds, doing)


class NativeSequenceMissing(SequenceMissing):
    """A registered native sequence no longer exists in the database."""

    def __init__(self, name: str, where: str) -> None:
        Exception.__init__(
            self,
            f'The native sequence {name!r} does not exist in {where} any more; it was '
            'dropped. Register it again with register_sequence() only if restarting '
            'its numbering is safe.',
        )
        self.name = name
        self._made_from = (name, where)


class NativeSequenceExhausted(SequenceError, OverflowError):
    """A native sequence has handed out its largest value."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f'The native sequence {name!r} has reached its largest value; nothing was '
            'handed out. To go on, start a new sequence.'
        )
        self.name = name
        self._made_from = (name,)


_RETRY = (
    'nothing was committed, so run the whole transaction again: '
    'transaction.manager.attempts() and transaction.manager.run() do that for you.'
)


class SequenceRetryable(SequenceError, TransientError):
    """The transaction failed in a way that is safe to run again from the start.

    It is a :class:`transaction.interfaces.TransientError`, which is what
    :meth:`transaction.manager.attempts` and :meth:`transaction.manager.run`
    retry. The database error is kept as :attr:`orig`.
    """

    def __init__(self, message: str, orig: BaseException) -> None:
        super().__init__(message)
        self.orig = orig


class SequenceConflict(SequenceRetryable):
    """Another transaction held or changed the sequence's row first.

    A lock wait that timed out, a deadlock, a serialization failure, or
    SQLite's "database is locked".
    """

    def __init__(self, orig: BaseException, advice: str = '') -> None:
        super().__init__(
            f'Another transaction was using the same sequence ({_first_line(orig)}); {_RETRY}{advice}', orig
        )
        self._made_from = (orig, advice)


class SequenceConnectionLost(SequenceRetryable):
    """The connection died before the transaction committed.

    The database rolled the transaction back when the connection ended, so
    nothing it did was kept; a new attempt gets a new connection.
    """

    def __init__(self, orig: BaseException) -> None:
        super().__init__(
            f'The connection to the database was lost ({_first_line(orig)}); {_RETRY} '
            'Create the engine with pool_pre_ping=True so that connections the server '
            'closed while idle are replaced before use.',
            orig,
        )
        self._made_from = (orig,)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
