"""The engine behind a bind, for code that is given either an engine or a connection."""
from __future__ import annotations

from sqlalchemy import Connection, Engine

__all__ = ['engine_of']


def engine_of(bind: Engine | Connection) -> Engine:
    """``bind`` itself if it is an engine, else the engine of the connection."""
    return bind.engine if isinstance(bind, Connection) else bind
