"""No value is handed out twice, and none is lost, under concurrent use."""
import multiprocessing
import threading

import pytest
import transaction
from sqlalchemy import create_engine, select

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence.generic import sequences
from mortar_rdb.transactions import mark_written

from .helpers import stored_values
from .workers import metadata, take_values, taken


@pytest.fixture
def tables(db_url):
    engine = create_engine(db_url)
    sequences.create(engine)
    metadata.create_all(engine)
    engine.dispose()
    return db_url


def committed_values(url):
    engine = create_engine(url)
    with engine.connect() as connection:
        values = connection.execute(select(taken.c.value).order_by(taken.c.value)).scalars().all()
    engine.dispose()
    return values


def test_processes_racing_with_rollbacks_commit_exactly_one_to_k(tables):
    processes, transactions = 4, 200
    context = multiprocessing.get_context('spawn')
    with context.Pool(processes) as pool:
        counts = pool.starmap_async(
            take_values, [(tables, 'shared', transactions, 0.2, seed) for seed in range(processes)]
        ).get(timeout=300)
    k = sum(counts)
    assert 0 < k < processes * transactions  # some rolled back
    assert committed_values(tables) == list(range(1, k + 1))
    assert stored_values(tables) == {'shared': k}


def test_threads_sharing_one_sequence_object_commit_exactly_one_to_k(tables):
    register_session(tables)
    with transaction.manager:
        register_sequence('shared', get_session())
    sequence = get_sequence('shared')
    threads, transactions = 8, 50
    errors = []

    def work():
        try:
            for _ in range(transactions):
                with transaction.manager:
                    session = get_session()
                    session.execute(taken.insert().values(value=sequence.next(session)))
                    mark_written(session)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            get_session().close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert committed_values(tables) == list(range(1, threads * transactions + 1))


def test_processes_registering_one_name_at_once_all_succeed(tables):
    context = multiprocessing.get_context('spawn')
    with context.Pool(4) as pool:
        counts = pool.starmap_async(take_values, [(tables, 'fresh', 0, 0, seed) for seed in range(4)]).get(timeout=300)
    assert counts == [0, 0, 0, 0]
    assert stored_values(tables) == {'fresh': 0}
