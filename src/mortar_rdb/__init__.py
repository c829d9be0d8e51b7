"""Named SQLAlchemy sessions managed by :mod:`transaction`, and sequences."""
from .declarative import declarative_base
from .sessions import drop_tables, get_session, register_session

__all__ = ['declarative_base', 'drop_tables', 'get_session', 'register_session']
