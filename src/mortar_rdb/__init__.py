"""Named SQLAlchemy sessions managed by :mod:`transaction`, and sequences."""
from .sessions import drop_tables, get_session, register_session

__all__ = ['drop_tables', 'get_session', 'register_session']
