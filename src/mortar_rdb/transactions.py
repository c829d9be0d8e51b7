"""How sequence writes tell the :mod:`transaction` package about themselves.

zope.sqlalchemy only marks a session as changed for ORM writes. A sequence
increment is a Core statement run on the session's connection, so without
this the data manager would take the transaction for read-only and roll the
increment back at commit time, and the same number would be handed out again.
"""
from __future__ import annotations

from sqlalchemy.orm import Session
from zope.sqlalchemy import datamanager


def mark_written(session: Session) -> None:
    """Tell zope.sqlalchemy that ``session`` has written, if it is joined.

    A session that zope.sqlalchemy does not manage is left alone: its owner
    commits it.
    """
    state = datamanager._SESSION_STATE.get(session)
    if state is None or state is datamanager.STATUS_CHANGED:
        return
    if state is datamanager.STATUS_READONLY:
        raise RuntimeError(
            'This session was joined to the transaction as read-only; a sequence'
            ' needs to write, so use a session that is not marked read-only.'
        )
    datamanager.mark_changed(session)
