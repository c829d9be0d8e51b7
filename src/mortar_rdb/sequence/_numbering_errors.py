"""What goes wrong with a column that a sequence numbers (:mod:`.numbering`).

Handed on, and documented, by :mod:`.errors`: import them from there.
"""
from __future__ import annotations

from zope.interface.interfaces import ComponentLookupError

from ._error_bases import SequenceError


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
