"""What goes wrong with sequences, each error saying what to do about it.

Every error is made from its facts (a name, a database, a value) and writes
its message from them in ``__str__``; the facts are its ``args``, so it
pickles as any exception does (a worker process's error reaches its parent
intact).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import exc
from transaction.interfaces import TransientError
from zope.interface.interfaces import ComponentLookupError

from ._error_bases import RETRY as _RETRY
from ._error_bases import AlsoTheDriversError as _AlsoTheDriversError
from ._error_bases import Refused as _Refused
from ._error_bases import SequenceError
from ._error_bases import first_line as _first_line
from ._error_bases import not_registered as not_registered  # where the package's __init__ imports it

# Documented, pickled and shown in tracebacks as one of these errors.
SequenceError.__module__ = __name__

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
    'OfflineMigrationUnsupported',
    'NotInDoubt',
    'SequenceChangeBlocked',
    'SequenceConflict',
    'SequenceConnectionLost',
    'SequenceCreationBlocked',
    'SequenceError',
    'SequenceInDoubt',
    'SequenceMissing',
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


class SequenceChangeBlocked(SequenceError):
    """Creating, restarting or dropping a native sequence waited too long for a lock.

    ``doing`` is ``'Creating'``, ``'Restarting'`` or ``'Dropping'``.
    """

    def __init__(self, name: str, seconds: int, doing: str = 'Creating') -> None:
        super().__init__(name, seconds, doing)
        self.name = name
        self.seconds = seconds
        self.doing = doing

    def __str__(self) -> str:
        if self.doing == 'Creating':
            return (
                f'Creating the native sequence {self.name!r} waited {self.seconds}s for a lock held by '
                f'another transaction, perhaps your own session\'s if it used something called {self.name!r}: '
                'end that transaction (or create the sequence beforehand) and register again.'
            )
        return (
            f'{self.doing} the native sequence {self.name!r} waited {self.seconds}s for a lock held by a '
            'transaction that used it and has not ended, perhaps your own session\'s: end that '
            'transaction and try again.'
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


class SequenceRetryable(_AlsoTheDriversError, SequenceError, TransientError, exc.OperationalError):
    """The transaction failed in a way that is safe to run again from the start.

    It is a :class:`transaction.interfaces.TransientError`, which is what
    :meth:`transaction.manager.attempts` and :meth:`transaction.manager.run`
    retry, and SQLAlchemy's ``OperationalError``, which the driver's error
    became in mortar_rdb 3.0. The database error is kept as :attr:`orig`.
    """

    def __init__(self, orig: BaseException, *more: object) -> None:
        Exception.__init__(self, orig, *more)
        self._keep(orig)


class SequenceConflict(SequenceRetryable):
    """Another transaction held or changed the sequence's row first.

    A lock wait that timed out, a deadlock, a serialization failure, or
    SQLite's "database is locked".
    """

    def __init__(self, orig: BaseException, advice: str = '', lock: str | None = None) -> None:
        super().__init__(orig, advice, lock)
        self.advice = advice
        #: what was waited for until the wait ran out: ``'row'`` (a row or
        #: table lock) or ``'database'`` (SQLite, which locks the whole file);
        #: None when the transaction lost a deadlock or serialization race
        self.lock = lock

    def __str__(self) -> str:
        if self.lock == 'database':
            # The writer may be using any table.
            return f'The database is locked by another writer ({_first_line(self.orig)}); {_RETRY}'
        return f'Another transaction was using the same sequence ({_first_line(self.orig)}); {_RETRY}{self.advice}'


class SequenceConnectionLost(SequenceRetryable):
    """The connection died before the transaction committed.

    The database rolled the transaction back when the connection ended, so
    nothing it did was kept; a new attempt gets a new connection.
    ``silent`` is true when the server stopped answering (a read timed out).
    """

    def __init__(self, orig: BaseException, silent: bool = False) -> None:
        super().__init__(orig, silent)
        self.silent = silent

    def __str__(self) -> str:
        return (
            f'The connection to the database was lost ({_first_line(self.orig)}); {_RETRY} '
            'Create the engine with pool_pre_ping=True so that connections the server '
            'closed while idle are replaced before use.'
        )


class SequenceStatementTimeout(_AlsoTheDriversError, SequenceError, exc.OperationalError):
    """The server stopped a statement that ran past its time limit
    (PostgreSQL's ``statement_timeout``, MariaDB's ``max_statement_time``)."""

    def __init__(self, where: str, orig: BaseException | None = None) -> None:
        Exception.__init__(self, where, orig)
        self.where = where
        self._keep(orig)

    def __str__(self) -> str:
        return (
            f'A statement on {self.where} ran past the time limit its server allows and was stopped '
            f'({_first_line(self.orig)}): roll the transaction back, then run it again or allow '
            "statements longer (PostgreSQL's statement_timeout, MariaDB's max_statement_time)."
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


class SequenceServerReadOnly(_AlsoTheDriversError, SequenceError, exc.InternalError, exc.OperationalError):
    """The database server accepts no writes: a hot standby, or read-only transactions.

    Taking a value writes (even a native sequence's), so it can only be done
    on the primary. Running the transaction again on the same server cannot
    help, so this is not retried. It is also the SQLAlchemy error the driver
    raised (``InternalError`` from psycopg, ``OperationalError`` or
    ``InternalError`` from PyMySQL). The driver's error is :attr:`orig`.
    """

    def __init__(self, where: str, orig: BaseException | None = None) -> None:
        Exception.__init__(self, where, orig)
        self.where = where
        self._keep(orig)

    def __str__(self) -> str:
        said = f' ({_first_line(self.orig)})' if self.orig is not None else ''
        return (
            f'The database server at {self.where} is read-only{said}: it is a hot standby, or its '
            'transactions are read-only (default_transaction_read_only, read_only, or a READ ONLY '
            'transaction). Sequence values can only be taken, and sequences created, restarted or dropped, '
            "on the primary: point this session's engine (or its binds) at the primary server."
        )


class SequenceInDoubt(_AlsoTheDriversError, SequenceError, exc.OperationalError):
    """A sequence's row is held by a transaction left in doubt: prepared, then never ended.

    A process that dies between the two phases of a two-phase commit leaves
    its prepared transaction, and its locks, on the server until an operator
    commits or rolls it back. Running the transaction again would only wait
    again, so this is not retried (unlike
    :class:`SequenceConflict`). ``transactions`` are those found, each with
    its ``id``, ``database``, ``seconds`` since it was prepared and
    ``sequences`` held (None where the database does not tell), and the
    ``commit`` and ``rollback`` statements that end it; the driver's
    lock-wait error is :attr:`orig`.
    """

    def __init__(self, where: str, transactions: tuple[Any, ...], orig: BaseException | None = None) -> None:
        Exception.__init__(self, where, transactions, orig)
        self.where = where
        self.transactions = transactions
        self._keep(orig)

    def __str__(self) -> str:
        described = '; '.join(_described(found) for found in self.transactions)
        ending = '; '.join(
            f'{found.commit} if the rest of its distributed transaction committed, else {found.rollback}'
            for found in self.transactions
        )
        # MariaDB's XA RECOVER does not say which rows a transaction holds.
        held = 'held' if all(found.sequences for found in self.transactions) else 'probably held'
        return (
            f'A sequence in {self.where} is {held} by a transaction left in doubt '
            f'(prepared for two-phase commit, then never committed or rolled back): {described}. '
            f'Running the transaction again will only wait again. End the transaction in doubt: {ending}; '
            'or "python -m mortar_rdb.sequence in-doubt --url URL" lists them and '
            '"... in-doubt rollback ID" ends one.'
        )


def _described(found: Any) -> str:
    facts = [f'id {found.id!r}']
    if found.database is not None:
        facts.append(f'database {found.database!r}')
    if found.seconds is not None:
        facts.append(f'prepared {found.seconds} seconds ago')
    if found.sequences:
        facts.append('holding ' + ', '.join(repr(name) for name in found.sequences))
    return ', '.join(facts)


class NotInDoubt(SequenceError, LookupError):
    """There is no transaction in doubt with this id in the database, so there is nothing to end."""

    def __init__(self, id: str, where: str) -> None:
        Exception.__init__(self, id, where)
        self.id = id
        self.where = where

    def __str__(self) -> str:
        return (
            f'There is no transaction in doubt (prepared, not yet committed or rolled back) with id {self.id!r} '
            f'in {self.where}, so nothing was changed: "in-doubt" lists those there are; it may have been '
            'ended already, or belong to another database.'
        )


class ColumnSequenceNotRegistered(ComponentLookupError, SequenceError):
    """A column numbered by :func:`~mortar_rdb.sequence.sequence_value`
    names a sequence nobody registered, found when a row was inserted.

    It is zope's ``ComponentLookupError`` too, as ``get_sequence()`` raises.
    """

    def __init__(self, name: str, column: str) -> None:
        super().__init__(name, column)
        self.name = name
        self.column = column

    def __str__(self) -> str:
        return (
            f'Column {self.column} takes its numbers from the sequence {self.name!r}, which is not '
            f'registered, so nothing was inserted: call register_sequence({self.name!r}, session) '
            'during configuration, before inserting rows.'
        )


class ColumnNotNumbered(SequenceError, TypeError):
    """A column numbered by a sequence is not of an integer type."""

    def __init__(self, name: str, column: str, column_type: str) -> None:
        super().__init__(name, column, column_type)
        self.name = name
        self.column = column
        self.column_type = column_type

    def __str__(self) -> str:
        return (
            f'Column {self.column} is {self.column_type}, which cannot hold the integers of the '
            f'sequence {self.name!r}: declare it as BigInteger.'
        )


class ColumnTooNarrow(SequenceError, OverflowError):
    """A sequence handed out a value larger than its column can hold.

    Raised before the row is inserted. ``gives_back`` says whether rolling
    back the transaction gives the value back (a generic sequence).
    """

    def __init__(self, name: str, column: str, column_type: str, value: int, ceiling: int, gives_back: bool) -> None:
        super().__init__(name, column, column_type, value, ceiling, gives_back)
        self.name = name
        self.column = column
        self.column_type = column_type
        self.value = value
        self.ceiling = ceiling
        self.gives_back = gives_back

    def __str__(self) -> str:
        spent = (
            'rolling the transaction back gives it back'
            if self.gives_back
            else 'the sequence does not take it back'
        )
        return (
            f'The sequence {self.name!r} handed out {self.value} for column {self.column}, but that '
            f'column is {self.column_type}, which holds at most {self.ceiling}; the row was not '
            f'inserted and {spent}. Widen the column to BigInteger.'
        )


class NativeSequenceRepeatsAcrossNodes(SequenceError):
    """An existing native sequence on a Galera node would hand out the same values on several nodes.

    Every node of a Galera cluster takes values from its own copy of the
    sequence; only ``INCREMENT BY 0`` makes each node take its own share
    (by its ``auto_increment_increment`` and ``auto_increment_offset``).
    """

    def __init__(self, name: str, increment: int, where: str) -> None:
        super().__init__(name, increment, where)
        self.name = name
        self.increment = increment
        self.where = where

    def __str__(self) -> str:
        quoted = '`' + self.name.replace('`', '``') + '`'
        return (
            f'The native sequence {self.name!r} in {self.where} counts INCREMENT BY {self.increment}, '
            'so the nodes of this Galera cluster would hand out the same values; it was not used. '
            f'Make each node take its own share with "ALTER SEQUENCE {quoted} INCREMENT BY 0" '
            '(values already handed out stay below the next ones), then register it again.'
        )


class GaleraOffsetsRenumbered(SequenceError):
    """A Galera cluster renumbers its nodes' offsets as nodes leave and join.

    A native sequence there is ``INCREMENT BY 0``: each node takes the
    values of its own ``auto_increment_offset``. With
    ``wsrep_auto_increment_control`` on (Galera's default), a node leaving or
    joining changes the offsets, and around the change two nodes can take
    the same value.
    """

    def __init__(self, name: str, where: str) -> None:
        super().__init__(name, where)
        self.name = name
        self.where = where

    def __str__(self) -> str:
        return (
            f'The native sequence {self.name!r} was not registered: {self.where} is a Galera node with '
            'wsrep_auto_increment_control on, which renumbers the nodes\' offsets whenever one leaves or '
            'joins, and around that change two nodes can hand out the same value. Give every node a fixed '
            'share in its configuration (wsrep_auto_increment_control = OFF, auto_increment_increment = '
            'the most nodes the cluster will have, auto_increment_offset = a number of its own from 1 to '
            'that), or use impl=mortar_rdb.sequence.pooled.SequenceImplementation, which needs neither.'
        )
