"""Helpers for the tests of applications that use mortar_rdb."""
from __future__ import annotations

import os

from sqlalchemy import URL, Engine, MetaData, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from .controlled import Config
from .declarative import TestingBase
from .registry import isolated
from .sessions import drop_tables, get_session
from .sessions import register_session as _register_session

__all__ = ['TestingBase', 'isolated', 'register_session']


def _engine_for(url: str | URL | None, echo: bool) -> Engine:
    url = url or os.environ.get('DB_URL')
    if url:
        return create_engine(url, echo=echo)
    # One in-memory database shared by every session and thread of the test.
    return create_engine(
        'sqlite://', echo=echo, poolclass=StaticPool, connect_args={'check_same_thread': False}
    )


def register_session(
    url: str | URL | None = None,
    name: str = '',
    engine: Engine | None = None,
    echo: bool = False,
    transactional: bool = True,
    scoped: bool = True,
    config: Config | None = None,
    metadata: MetaData | None = None,
) -> Session:
    """Register a session on an emptied database and return it.

    The database is ``url``, else ``engine``, else the ``DB_URL`` environment
    variable, else an in-memory SQLite database. Everything in it is dropped;
    then the tables of ``config`` and ``metadata`` are created. The session
    never uses two-phase commit, so DDL works through it on MariaDB too.
    """
    if engine is None:
        engine = _engine_for(url, echo)
    elif url is not None:
        raise TypeError('Pass either url or engine to register_session, not both.')
    drop_tables(engine)
    for tables in (config, metadata):
        if tables is not None:
            tables.create_all(engine) if isinstance(tables, MetaData) else tables.create(engine)
    _register_session(engine=engine, name=name, transactional=transactional, scoped=scoped, twophase=False)
    return get_session(name)
