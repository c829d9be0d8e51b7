"""The gapless implementation: one row per sequence in the ``sequences`` table.

``next()`` increments the row inside the caller's transaction. The row stays
locked until that transaction ends, so the value is given back if it rolls
back, and another transaction wanting the same sequence waits until then:
the numbers are gapless, at the price of serialising their users.
"""
from __future__ import annotations

from sqlalchemy.orm import Session, scoped_session
from zope.interface import implementer

from ..interfaces import ISequence
from .access import Runner, access
from .errors import SequenceMissing, SequenceOverflow
from .names import check_name
from .table import metadata, sequences, source

__all__ = ['SequenceImplementation', 'metadata', 'sequences', 'source']

AnySession = Session | scoped_session[Session]


@implementer(ISequence)
class SequenceImplementation:
    """A gapless sequence stored as a row of the ``sequences`` table.

    Creating one (which :func:`~mortar_rdb.sequence.register_sequence` does)
    adds its row, starting at zero, in ``session``'s transaction if it is not
    there yet; commit that transaction to keep it.
    """

    def __init__(self, name: str, session: AnySession) -> None:
        self.name = check_name(name)
        db = access(session)
        check_name(name, db.shape().name_length)
        if db.run(db.sql.current, db.cursor, name) is None:
            db.wrote()
            db.run(db.sql.insert_missing, db.cursor, name, 0)

    def next(self, session: AnySession) -> int:
        """The next value, taken in ``session``'s transaction.

        The row stays locked until the transaction ends; a rollback gives the
        value back.
        """
        db = access(session)
        db.wrote()
        ceiling = db.shape().ceiling
        value = db.run(db.sql.increment, db.cursor, self.name, 1, ceiling - 1)
        if value is None:
            raise why_nothing_changed(db, self.name, ceiling)
        return value

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.name!r}>'


def why_nothing_changed(db: Runner, name: str, ceiling: int) -> Exception:
    """The error to raise when an increment of ``name`` changed no row."""
    if db.run(db.sql.current, db.cursor, name) is None:
        return SequenceMissing(name, db.backend.where)
    return SequenceOverflow(name, ceiling)
