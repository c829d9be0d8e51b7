"""Sequences kept by the database itself: ``CREATE SEQUENCE`` and ``nextval``.

``next()`` is one statement on the caller's connection. The database hands
each value out once and never takes it back, so no transaction waits for
another, and a value taken in a transaction that rolls back is simply
skipped: the numbers are unique and increasing, not gapless.

Registering creates the sequence if it is missing, on a connection and in a
transaction of its own, committed at once. That keeps the caller's
transaction untouched: on MariaDB ``CREATE SEQUENCE`` would commit the
caller's open transaction, and it is refused inside the XA transactions that
:func:`mortar_rdb.register_session` uses there. A sequence that already
exists is adopted as it is.

``next()`` does not mark the session as written for :mod:`transaction`: a
value is used up whether or not the transaction commits, so a transaction
that only took numbers may end in a rollback (or join read-only) without
ever handing a number out twice.
"""
from __future__ import annotations

from sqlalchemy import Engine, exc
from sqlalchemy.orm import Session, scoped_session
from zope.interface import implementer

from ..interfaces import ISequence
from .access import Access, access
from .dialects import NativeSQL
from .errors import (
    NativeSequenceExhausted,
    NativeSequenceMissing,
    NoNativeSequences,
    NotASequence,
    SequenceCreationBlocked,
)
from .names import check_name
from .table import INT64_MAX

__all__ = ['SequenceImplementation']

AnySession = Session | scoped_session[Session]

#: How often registration looks again after another connection created the
#: same sequence at the same moment.
_ATTEMPTS = 5

#: How long creating a sequence waits for a lock before giving up. Waiting
#: longer cannot help when the lock is the caller's own: its transaction is
#: paused until registering returns.
LOCK_WAIT_SECONDS = 10


@implementer(ISequence)
class SequenceImplementation:
    """A native database sequence called ``name``, starting at ``start``.

    Creating one (which :func:`~mortar_rdb.sequence.register_sequence` does)
    creates the sequence, committed on a connection of its own, unless it
    exists; ``start`` only applies to a sequence created here.
    Raises NoNativeSequences on a database without sequences.
    """

    def __init__(self, name: str, session: AnySession, start: int = 1) -> None:
        self.name = check_name(name)
        if isinstance(start, bool) or not isinstance(start, int) or not -(2**63) <= start < INT64_MAX:
            raise ValueError(f'start must be a 64-bit integer below {INT64_MAX}, not {start!r}.')
        self.start = start
        db = access(session)
        native = db.backend.native
        if not native.supported:
            raise NoNativeSequences(native.database)
        native.check_name(name)
        if not native.exists(db.connection, name):
            _create(db.connection.engine, native, name, start, db.backend.where)

    def next(self, session: AnySession) -> int:
        """The next value: unique and increasing, used up even on rollback."""
        db = access(session)
        return db.run(
            db.backend.native.next_value, db.cursor, self.name, translate=lambda error: self._explain(db, error)
        )

    def _explain(self, db: Access, error: exc.StatementError) -> Exception:
        native = db.backend.native
        if native.is_missing(error.orig):
            return NativeSequenceMissing(self.name, db.backend.where)
        if native.is_exhausted(error.orig):
            return NativeSequenceExhausted(self.name)
        return error

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.name!r}>'


def _create(engine: Engine, native: NativeSQL, name: str, start: int, where: str) -> None:
    """Create sequence ``name`` in a transaction of its own, unless it exists.

    Two connections creating the same sequence at once can both find it
    missing; the loser's CREATE fails (PostgreSQL's catalog keeps names
    unique even against IF NOT EXISTS), and it looks again. Waiting for a
    lock is bounded: the lock may be the caller's, whose transaction cannot
    end while this waits.
    """
    for attempt in range(_ATTEMPTS):
        with engine.connect() as connection:
            try:
                with connection.begin():
                    if not native.exists(connection, name):
                        native.limit_lock_wait(connection, LOCK_WAIT_SECONDS)
                        connection.execute(native.create(name, start))
            except exc.DBAPIError as error:
                if native.is_lock_timeout(error.orig):
                    raise SequenceCreationBlocked(name, LOCK_WAIT_SECONDS) from error
                if attempt + 1 < _ATTEMPTS and native.is_duplicate(error.orig):
                    continue
                raise
            if native.exists(connection, name):
                return
            raise NotASequence(name, where)
