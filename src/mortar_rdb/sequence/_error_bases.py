"""What the errors of :mod:`.errors` are built on: the base class every one
of them has, the refusal of a name or value, and what our errors that stand
for a driver's error share (what SQLAlchemy's handlers look at, pickling by
facts, how the driver's message is quoted)."""
from __future__ import annotations

from sqlalchemy import exc
from zope.interface.interfaces import ComponentLookupError


class _Unwrapped(exc.DontWrapMixin):
    """SQLAlchemy raises errors of this kind as they are, never wrapped in a ``StatementError``."""


class SequenceError(_Unwrapped, Exception):
    """Base class of every error raised by :mod:`mortar_rdb.sequence`.

    Raised while SQLAlchemy executes a statement (a column numbered by
    :func:`~mortar_rdb.sequence.sequence_value`), it reaches the caller as
    itself, not wrapped in a ``StatementError``: a conflict stays retryable.
    """


class Refused(SequenceError):
    """A name or value refused: ``problem`` says why; ``widened`` is set when the
    table is a mortar_rdb 3.0 one that, upgraded, holds it (``'names of up to 255'``)."""

    def __init__(self, problem: str, widened: str | None = None) -> None:
        super().__init__(problem, widened)
        self.problem = problem
        self.widened = widened

    def __str__(self) -> str:
        if self.widened is None:
            return self.problem
        return (
            f'{self.problem} It is a mortar_rdb 3.0 table: upgrade it for {self.widened} with '
            'mortar_rdb.sequence.schema.upgrade_table() or "python -m mortar_rdb.sequence upgrade-table".'
        )


class AlsoTheDriversError(exc.DBAPIError):
    """For our errors that replace a driver error 3.0 let through: they are
    also the SQLAlchemy error it became, so code written for 3.0 that
    catches that still catches ours. The driver's error is :attr:`orig`.
    """

    def _keep(self, orig: BaseException | None) -> None:
        # What SQLAlchemy's handlers of a DBAPIError may look at. SQLAlchemy
        # 2.1 types orig as an Exception, 2.0 as any BaseException, so the
        # ignore is needed on 2.1 only.
        self.orig = orig  # type: ignore[assignment, unused-ignore]
        self.statement = None
        self.params = None
        self.ismulti = None
        self.hide_parameters = False
        self.connection_invalidated = False
        self.detail = []

    def __reduce__(self) -> tuple[object, ...]:
        # SQLAlchemy's errors pickle their statement; ours their facts.
        return (type(self), self.args)

    def _said(self) -> str:
        """What the driver said, in brackets after a space, for a message; nothing without it."""
        return f' ({first_line(self.orig)})' if self.orig is not None else ''


RETRY = (
    'nothing was committed, so run the whole transaction again: '
    'transaction.manager.attempts() and transaction.manager.run() do that for you.'
)


def first_line(error: BaseException | None) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

def not_registered(name: str) -> ComponentLookupError:
    """The error for a sequence name nobody registered, saying how to register it."""
    return ComponentLookupError(
        f'No sequence is registered with the name {name!r}: '
        f'call register_sequence({name!r}, session) during configuration.'
    )
