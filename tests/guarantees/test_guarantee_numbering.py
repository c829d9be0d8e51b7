"""Rows numbered at their INSERT by ``sequence_value()`` keep every implementation's promise:
processes and threads inserting at once, some rolling back, commit exactly 1..K
with a gapless sequence and never the same number twice with the others."""

from __future__ import annotations

from collections import Counter

import transaction
from sqlalchemy import insert
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from tests.helpers import run_in_threads
from tests.workers import numbered_taken, race


def test_processes_numbering_rows_with_random_rollbacks_never_commit_a_number_twice(setup):
    workers = race(setup.url, [setup.implementation.id] * 4, 'seq', 100, rollback_share=0.2, on_insert=True)
    committed = setup.committed()
    reported = [value for worker in workers for value in worker.taken()]
    k = len(committed)
    assert 0 < k < 400  # some rolled back
    assert sorted(reported) == committed
    if setup.implementation.gapless:
        assert committed == list(range(1, k + 1))
    else:
        handed_out = Counter(value for worker in workers for value in worker.handed_out())
        assert sum(handed_out.values()) == 400
        assert [value for value, times in handed_out.items() if times > 1] == []


def test_threads_numbering_rows_with_rollbacks_never_commit_a_number_twice(setup):
    register_session(engine=setup.engine())
    with transaction.manager:
        setup.implementation.register('shared', get_session())
    table = numbered_taken('shared')
    threads, transactions = 6, 30
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for number in range(transactions):
                transaction.begin()
                session = get_session()
                session.execute(insert(table).values(name='shared'))
                mark_changed(session)
                if number % 4 == 3:
                    transaction.abort()
                else:
                    transaction.commit()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            transaction.abort()
        finally:
            get_session().close()

    run_in_threads(work, threads)
    assert errors == []
    committed = setup.committed('shared')
    k = threads * (transactions - transactions // 4)
    assert len(committed) == len(set(committed)) == k
    if setup.implementation.gapless:
        assert committed == list(range(1, k + 1))
