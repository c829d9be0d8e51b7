"""Registering SQLAlchemy sessions by name, managed by :mod:`transaction`."""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import URL, Engine, MetaData, create_engine, inspect
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.schema import DropSequence, Sequence
from zope.interface.interfaces import ComponentLookupError
from zope.sqlalchemy import register as register_with_transaction
from zope.sqlalchemy.datamanager import STATUS_CHANGED

from ._identifiers import identifier
from .interfaces import ISession
from .registry import components
from .twophase import TwoPhaseWhereSupportedSession

logger = logging.getLogger('mortar_rdb')

#: What is registered under :class:`~mortar_rdb.interfaces.ISession`: a
#: callable returning a session (a scoped_session or a sessionmaker).
SessionFactory = Callable[[], Session]

#: What sequence code accepts: a session, or a scoped session to call.
AnySession = Session | scoped_session[Session]


def register_session(
    url: str | URL | None = None,
    name: str = '',
    engine: Engine | None = None,
    echo: bool | None = None,
    transactional: bool = True,
    scoped: bool = True,
    twophase: bool = True,
) -> None:
    """Register a session for the database at ``url`` (or on ``engine``).

    The registration goes in zope.component's current site manager, so the
    usual ways of isolating tests (testfixtures' ``TestComponents``,
    zope.component's testing clean-up, a hooked-in Pyramid registry) see it.

    :param name: sessions are looked up by this name with :func:`get_session`.
    :param echo: log SQL; only with ``url``, configure your own ``engine``.
        (``echo=False`` beside an ``engine`` is accepted, as in 3.0.)
    :param transactional: join every session to the :mod:`transaction`
        package (via zope.sqlalchemy) as already changed, so whatever it
        executes, ORM, Core or text, commits or aborts with the transaction.
        Needs ``scoped``.
    :param scoped: :func:`get_session` returns the calling thread's session;
        otherwise a new session on each call.
    :param twophase: for transactional sessions, use two-phase commit where
        the server supports it (MySQL/MariaDB XA, PostgreSQL with
        ``max_prepared_transactions > 0``) and an ordinary commit elsewhere,
        a MariaDB Galera node included (Galera refuses XA).
        Sessions that are not transactional never use it.
    """
    if (url is None) == (engine is None):
        raise TypeError('Pass either url or engine to register_session, not both and not neither.')
    if transactional and not scoped:
        raise TypeError(
            'A transactional session must be scoped: pass scoped=True, or '
            'transactional=False to manage commits yourself.'
        )
    if engine is None:
        engine = create_engine(url, echo=bool(echo))  # type: ignore[arg-type]
    elif echo:
        raise TypeError('echo only applies to an engine made from a url: set echo on your own engine instead.')

    logger.info(
        "Registering session for %s with name '%s'", engine.url.render_as_string(hide_password=True), name
    )
    factory = sessionmaker(
        bind=engine, class_=TwoPhaseWhereSupportedSession, twophase=twophase and transactional
    )
    registered: SessionFactory = factory
    if scoped:
        registered = scoped_session(factory)
    if transactional:
        # Joined as changed: zope.sqlalchemy would otherwise only commit
        # sessions that flushed ORM objects, and roll back Core and text
        # statements at commit time without a word.
        register_with_transaction(registered, initial_state=STATUS_CHANGED)
    components().registerUtility(registered, provided=ISession, name=name)


def get_session(name: str = '') -> Session:
    """The session registered under ``name``.

    For a scoped session, the calling thread's session; otherwise a new one
    on each call.
    """
    factory = components().queryUtility(ISession, name)
    if factory is None:
        raise ComponentLookupError(
            f'No session is registered with the name {name!r}: '
            f'call register_session(url, name={name!r}) first.'
        )
    return factory()


def drop_tables(engine: Engine) -> None:
    """Drop every table (and native sequence) in ``engine``'s database.

    Meant for tests that need a clean database; it is not reversible.
    """
    metadata = MetaData()
    metadata.reflect(bind=engine)
    with engine.begin() as connection:
        metadata.drop_all(connection)
        inspector = inspect(connection)
        if engine.dialect.supports_sequences:
            for sequence_name in inspector.get_sequence_names():
                connection.execute(DropSequence(Sequence(identifier(sequence_name))))
