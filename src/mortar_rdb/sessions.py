"""Registering SQLAlchemy sessions by name, managed by :mod:`transaction`."""
from __future__ import annotations

from sqlalchemy import URL, Engine, MetaData, create_engine, inspect
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.schema import DropSequence, Sequence
from zope.interface.interfaces import ComponentLookupError
from zope.sqlalchemy import register as register_with_transaction

from .identifiers import identifier
from .interfaces import ISession
from .registry import components
from .twophase import TwoPhaseWhereSupportedSession

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

    :param name: sessions are looked up by this name with :func:`get_session`.
    :param echo: log SQL; only with ``url``, configure your own ``engine``.
    :param transactional: commit and roll back through the :mod:`transaction`
        package (via zope.sqlalchemy). Needs ``scoped``.
    :param scoped: one session per thread (a
        :class:`~sqlalchemy.orm.scoped_session`); otherwise one shared session.
    :param twophase: use two-phase commit where the server supports it
        (MySQL/MariaDB XA, PostgreSQL with ``max_prepared_transactions > 0``)
        and an ordinary commit elsewhere.
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
    elif echo is not None:
        raise TypeError('echo only applies to an engine made from a url: set echo on your own engine instead.')

    factory = sessionmaker(bind=engine, class_=TwoPhaseWhereSupportedSession, twophase=twophase)
    session: AnySession
    if scoped:
        session = scoped_session(factory)  # type: ignore[arg-type]
        if transactional:
            register_with_transaction(session)
    else:
        session = factory()
    components().registerUtility(session, provided=ISession, name=name)


def get_session(name: str = '') -> AnySession:
    """The session registered under ``name``."""
    session = components().queryUtility(ISession, name)
    if session is None:
        raise ComponentLookupError(
            f'No session is registered with the name {name!r}: '
            f'call register_session(url, name={name!r}) first.'
        )
    return session


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
