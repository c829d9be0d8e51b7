"""How sequence writes tell the :mod:`transaction` package about themselves.

Sessions from :func:`mortar_rdb.register_session` join the transaction as
already changed, so everything they execute is committed; for them
:func:`mark_written` does nothing. A session that its owner joined with
zope.sqlalchemy's default state is only marked changed by ORM writes: a
sequence increment is a Core statement, so without :func:`mark_written` the
data manager would roll it back at commit and hand the same number out again.
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
