"""What goes wrong with sequences, each error saying what to do about it."""
from __future__ import annotations

from transaction.interfaces import TransientError
from zope.interface.interfaces import ComponentLookupError


class SequenceError(Exception):
    """Base class of every error raised by :mod:`mortar_rdb.sequence`."""


class SequenceNotRegistered(SequenceError, ComponentLookupError):
    """:func:`~mortar_rdb.sequence.get_sequence` was asked for an unknown name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f'No sequence is registered with the name {name!r}: '
            f'call register_sequence({name!r}, session) during configuration.'
        )
        self.name = name


class InvalidSequenceName(SequenceError, ValueError, TypeError):
    """A sequence name is not a string the database can store verbatim."""


class SequenceTableMissing(SequenceError):
    """The ``sequences`` table does not exist in the database."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f'The sequences table does not exist in {where}: create it with '
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
        super().__init__(
            f'Sequence {name!r} has no row in the sequences table of {where}; it '
            'was deleted or never registered in this database. Register it again '
            'with register_sequence() only if restarting its numbering is safe.'
        )
        self.name = name


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
        super().__init__(f'Another transaction was using the same sequence ({_first_line(orig)}); {_RETRY}{advice}', orig)


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


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
