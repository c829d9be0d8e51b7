"""What goes wrong with sequences, each error saying what to do about it.

Every error is made from its facts (a name, a database, a value) and writes
its message from them in ``__str__``; the facts are its ``args``, so it
pickles as any exception does (a worker process's error reaches its parent
intact).
"""
from __future__ import annotations

from sqlalchemy import exc
from zope.interface.interfaces import ComponentLookupError

from ._error_bases import AlsoTheDriversError as _AlsoTheDriversError
from ._error_bases import Refused as _Refused
from ._error_bases import SequenceError
from ._error_bases import not_registered as not_registered  # where the package's __init__ imports it
from ._numbering_errors import ColumnNotNumbered, ColumnSequenceNotRegistered, ColumnTooNarrow
from ._server_errors import (
    GaleraOffsetsRenumbered,
    NativeSequenceRepeatsAcrossNodes,
    NotInDoubt,
    SequenceChangeBlocked,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceInDoubt,
    SequenceNodeNotReady,
    SequenceRetryable,
    SequenceServerReadOnly,
    SequenceStatementTimeout,
)

__all__ = [
    'BlockReservationBlocked',
    'ColumnNotNumbered',
    'ColumnSequenceNotRegistered',
    'ColumnTooNarrow',
    'GaleraOffsetsRenumbered',
    'InvalidSequenceName',
    'InvalidSequenceValue',
    'NativeOperationUnsupported',
    'NativeSequenceExhausted',
    'NativeSequenceMissing',
    'NativeSequenceRepeatsAcrossNodes',
    'NoNativeSequences',
    'NoSuchSequence',
    'NotASequence',
    'NotInDoubt',
    'OfflineMigrationUnsupported',
    'SequenceChangeBlocked',
    'SequenceConflict',
    'SequenceConnectionLost',
    'SequenceCreationBlocked',
    'SequenceError',
    'SequenceInDoubt',
    'SequenceMissing',
    'SequenceNodeNotReady',
    'SequenceNotRegistered',
    'SequenceOverflow',
    'SequenceRestartRefused',
    'SequenceRetryable',
    'SequenceServerReadOnly',
    'SequenceStatementTimeout',
    'SequenceTableMissing',
    'SequenceTableNotUpgradable',
    'SequenceValueUnset',
    'SharedConnectionPool',
]


#: What :func:`~mortar_rdb.sequence.get_sequence` raises for an unknown
#: name: zope's own ``ComponentLookupError``, as in mortar_rdb 3.0, so that
#: tests checking its exact type keep passing. The name stays for code that
#: catches it.
SequenceNotRegistered = ComponentLookupError


class InvalidSequenceName(_Refused, ValueError, TypeError):
    """A sequence name is not a string the database can store verbatim."""


class InvalidSequenceValue(_Refused, ValueError):
    """A start, restart value or count is not an integer the sequence can take."""


class SequenceTableNotUpgradable(SequenceError):
    """The sequences table cannot be upgraded as it stands."""


class NativeOperationUnsupported(SequenceError, NotImplementedError):
    """mortar_rdb cannot do this to a native sequence on this database."""


class SequenceTableMissing(_AlsoTheDriversError, SequenceError, exc.ProgrammingError, exc.OperationalError):
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
        self._keep(orig)

    def __str__(self) -> str:
        return (
            f'The sequences table does not exist in {self.where}: create it with '
            'mortar_rdb.sequence.generic.sequences.create(engine), '
            'mortar_rdb.sequence.generic.source in your Config, '
            'or "python -m mortar_rdb.sequence create-table --url URL".'
        )


class SequenceMissing(SequenceError, LookupError):
    """A registered sequence has no row in the ``sequences`` table any more.

    Starting it again from the beginning would hand out numbers that were
    handed out before, so this is an error rather than a restart.
    """

    def __init__(self, name: str, where: str) -> None:
        super().__init__(name, where)
        self.name = name
        self.where = where

    def __str__(self) -> str:
        return (
            f'Sequence {self.name!r} has no row in the sequences table of {self.where}; it '
            'was deleted or never registered in this database. Register it again '
            'with register_sequence() only if restarting its numbering is safe.'
        )


class NativeSequenceMissing(SequenceMissing):
    """A registered native sequence does not exist in the session's database."""

    def __str__(self) -> str:
        return (
            f'The native sequence {self.name!r} does not exist in {self.where}: it was dropped, '
            'or this session is on another database than the one it was registered in. Check the '
            "session's URL first; register it again with register_sequence() only if restarting "
            'its numbering is safe.'
        )


class NoSuchSequence(SequenceMissing):
    """A command named a sequence that the database does not hold."""

    def __init__(self, name: str, where: str, options: str = '') -> None:
        SequenceError.__init__(self, name, where, options)
        self.name = name
        self.where = where
        self.options = options

    def __str__(self) -> str:
        return (
            f'There is no sequence named {self.name!r} in {self.where}: check the name (the '
            f'"list{self.options}" command shows them) and the URL, or create it with '
            f'"next {self.name}{self.options} --create".'
        )


class SequenceOverflow(SequenceError, OverflowError):
    """A sequence cannot hand out the values asked for without passing its largest.

    ``ceiling`` is the largest value of the ``sequences`` table's column; it
    is None for a native sequence, which keeps its own limit. ``count`` is
    how many values were asked for and ``left`` how many the sequence still
    had: a batch larger than what is left is refused whole, and the sequence
    goes on handing out smaller ones.
    """

    def __init__(self, name: str, ceiling: int | None = None, count: int = 1, left: int = 0) -> None:
        super().__init__(name, ceiling, count, left)
        self.name = name
        self.ceiling = ceiling
        self.count = count
        self.left = left

    @property
    def narrow(self) -> bool:
        """Whether the column is a mortar_rdb 3.0 one, which upgrading widens."""
        return self.ceiling is not None and self.ceiling < 2**63 - 1

    def __str__(self) -> str:
        if self.ceiling is None:
            return (
                f'The native sequence {self.name!r} has reached its largest value; nothing was '
                'handed out. To go on, start a new sequence.'
            )
        widen = (
            'widen the column with mortar_rdb.sequence.schema.upgrade_table() '
            'or "python -m mortar_rdb.sequence upgrade-table"'
        )
        if self.left > 0:
            return (
                f'Sequence {self.name!r} has {self.left} values left before {self.ceiling}, the largest '
                f'value its column holds, so {self.count} cannot be taken; nothing was handed out. '
                f'Take at most {self.left}' + (f', or {widen}.' if self.narrow else '.')
            )
        fix = widen if self.narrow else 'start a new sequence'
        return (
            f'Sequence {self.name!r} has reached {self.ceiling}, the largest value its '
            f'column holds; nothing was handed out. To go on, {fix}.'
        )


#: A native sequence that has handed out its largest value: ``NativeSequenceExhausted(name)``.
NativeSequenceExhausted = SequenceOverflow


class SequenceRestartRefused(SequenceError, ValueError):
    """A restart would move a sequence backwards without ``force``."""

    def __init__(self, name: str, current: int, value: int) -> None:
        super().__init__(name, current, value)
        self.name = name
        self.current = current
        self.value = value

    def __str__(self) -> str:
        return (
            f'Sequence {self.name!r} has reached {self.current}; restarting it at {self.value} could '
            'hand out the same numbers again, so nothing was changed. Pass force=True '
            '(--force on the command line) if those numbers are really free.'
        )


class BlockReservationBlocked(SequenceError):
    """A pooled sequence must write its row on its reservation connection, and
    the caller's own transaction holds the lock that doing so would wait for."""

    def __init__(self, name: str, method: str = 'next') -> None:
        super().__init__(name, method)
        self.name = name
        self.method = method

    def __str__(self) -> str:
        method = self.method
        if method == 'next':
            needs, advice = 'needs a new block of values', 'take values'
        else:
            needs, advice = f'must write its row for {method}()', f'call {method}()'
        return (
            f'Pooled sequence {self.name!r} {needs}, but the transaction '
            f'of the session passed to {method}() holds the database write lock that this '
            f'would wait for: {advice} before that transaction writes, or keep the '
            'sequences table in another database with register_sequence(..., engine=...).'
        )


#: Registering a native sequence waited too long for a lock: ``SequenceCreationBlocked(name, seconds)``.
SequenceCreationBlocked = SequenceChangeBlocked


class SharedConnectionPool(SequenceError, ValueError):
    """A pooled sequence was given an engine that cannot give it a connection of its own."""

    def __init__(self, name: str, pool: str) -> None:
        super().__init__(name, pool)
        self.name = name
        self.pool = pool

    def __str__(self) -> str:
        return (
            f'Pooled sequence {self.name!r} reserves blocks on a connection of its own, but '
            f'this engine\'s {self.pool} hands every caller the same connection (an in-memory '
            'SQLite database?): use a database file, or pass engine= with an ordinary pool.'
        )


class NoNativeSequences(SequenceError, NotImplementedError):
    """The database has no native sequences for :mod:`mortar_rdb.sequence.native`."""

    def __init__(self, database: str) -> None:
        super().__init__(database)
        self.database = database

    def __str__(self) -> str:
        return (
            f'{self.database} has no native sequences: register this sequence with '
            'impl=mortar_rdb.sequence.generic.SequenceImplementation (gapless) or '
            'impl=mortar_rdb.sequence.pooled.SequenceImplementation (fast), which work there.'
        )


class NotASequence(SequenceError):
    """Something other than a sequence already has the name a native sequence needs."""

    def __init__(self, name: str, where: str) -> None:
        super().__init__(name, where)
        self.name = name
        self.where = where

    def __str__(self) -> str:
        return (
            f'{self.where} already has a table, view or other object called {self.name!r}, '
            'so no native sequence can take that name: choose another name.'
        )


class SequenceValueUnset(SequenceError, ValueError):
    """The row of a sequence holds NULL, which mortar_rdb 3.0's column allowed:
    what it handed out last, and so what comes next, is unknown."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return (
            f'The row of sequence {self.name!r} in the sequences table holds NULL (mortar_rdb 3.0 allowed it), '
            'so its next value is unknown and nothing was handed out: restart it at the first value not yet '
            'used with restart(session, value, force=True) on the sequence, or "python -m mortar_rdb.sequence '
            'restart NAME VALUE --force".'
        )


class OfflineMigrationUnsupported(SequenceError, NotImplementedError):
    """A function that must look at the database was given Alembic's offline stand-in.

    In offline mode (``alembic upgrade --sql``) there is no database to look
    at, and whether the sequences table must be created, upgraded or left
    alone depends on what is there.
    """

    def __init__(self, function: str) -> None:
        super().__init__(function)
        self.function = function

    def __str__(self) -> str:
        return (
            f'{self.function}() must look at the database to see whether the sequences table exists '
            "and what shape it has, so it cannot run in Alembic's offline mode (--sql), which has no "
            'database connection. Run the migration online (without --sql); or, to write the SQL for a '
            'database that has no sequences table yet, call '
            'mortar_rdb.sequence.generic.sequences.create(op.get_bind()) in the migration instead.'
        )


# Documented, pickled and shown in tracebacks as errors of this module, where
# applications import them from.
for _error in (
    SequenceError,
    SequenceRetryable,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceStatementTimeout,
    SequenceServerReadOnly,
    SequenceNodeNotReady,
    SequenceInDoubt,
    NotInDoubt,
    SequenceChangeBlocked,
    NativeSequenceRepeatsAcrossNodes,
    GaleraOffsetsRenumbered,
    ColumnSequenceNotRegistered,
    ColumnNotNumbered,
    ColumnTooNarrow,
):
    _error.__module__ = __name__
