"""Two-phase commit on a PostgreSQL server that can prepare transactions.

A stock PostgreSQL (``max_prepared_transactions = 0``) cannot, so the tests
that run on every configured database never see PostgreSQL prepare. These
take their database from ``MORTAR_RDB_TEST_POSTGRESQL_TWOPHASE``, a
PostgreSQL with ``max_prepared_transactions > 0`` (CI starts one). Without
it they skip, except in CI (``CI=true``), where they fail: CI must not go
green without ever preparing a PostgreSQL transaction.
"""
from __future__ import annotations

import os

import pytest
import transaction
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, select, text
from sqlalchemy.orm import Session

from mortar_rdb import drop_tables, get_session, register_session
from mortar_rdb.testing import register_session as register_test_session

from .databases import needed

VARIABLE = 'MORTAR_RDB_TEST_POSTGRESQL_TWOPHASE'

things = Table('things', MetaData(), Column('id', Integer, primary_key=True))


@pytest.fixture
def twophase_url() -> str:
    """An emptied database, with a ``things`` table, on a server that prepares."""
    url = os.environ.get(VARIABLE)
    if not url:
        needed(
            f'{VARIABLE} is not set: no PostgreSQL server that can prepare transactions to test against',
            'CI must set it.',
        )
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            setting = int(connection.execute(text('SHOW max_prepared_transactions')).scalar() or 0)
        if setting == 0:
            pytest.fail(f'{VARIABLE} ({url}) has max_prepared_transactions = 0: it must be a server that prepares.')
        drop_tables(engine)
        things.create(engine)
    finally:
        engine.dispose()
    return url


def prepared_by(session: Session) -> list[object]:
    """Fills with the transaction ids ``session``'s engine prepares."""
    seen: list[object] = []
    event.listen(session.bind, 'prepare_twophase', lambda connection, xid: seen.append(xid))
    return seen


def committed_ids(url: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(things.c.id)).scalars())
    finally:
        engine.dispose()


def left_prepared(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text('SELECT count(*) FROM pg_prepared_xacts')).scalar() or 0)
    finally:
        engine.dispose()


def test_a_transactional_session_prepares_then_commits(twophase_url):
    register_session(twophase_url)
    prepared = prepared_by(get_session())
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
    assert len(prepared) == 1
    assert committed_ids(twophase_url) == [1]
    assert left_prepared(twophase_url) == 0


def test_an_aborted_transaction_prepares_nothing_and_keeps_nothing(twophase_url):
    register_session(twophase_url)
    prepared = prepared_by(get_session())
    get_session().execute(things.insert().values(id=1))
    transaction.abort()
    assert prepared == []
    assert committed_ids(twophase_url) == []


def test_a_non_transactional_session_does_not_prepare(twophase_url):
    register_session(twophase_url, transactional=False)
    session = get_session()
    prepared = prepared_by(session)
    session.execute(things.insert().values(id=1))
    session.commit()
    assert prepared == []
    assert committed_ids(twophase_url) == [1]


def test_a_testing_session_does_not_prepare(twophase_url):
    session = register_test_session(twophase_url, metadata=things.metadata)
    prepared = prepared_by(session)
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
    assert prepared == []
    assert committed_ids(twophase_url) == [1]
