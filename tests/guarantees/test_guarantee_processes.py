"""Many processes, and many threads sharing one sequence object, taking values
at once, some of them rolling back: no value is committed twice, a gapless
sequence commits exactly 1..K, and the others never hand a value out twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

import transaction
from sqlalchemy import select
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence
from mortar_rdb.sequence.generic import sequences
from tests.helpers import run_in_threads
from tests.workers import race, taken


def stored(setup: Any) -> dict[str, int]:
    """What the sequences table holds."""
    with Session(setup.engine()) as session:
        return dict(session.execute(select(sequences.c.name, sequences.c.current)).all())


def test_processes_with_random_rollbacks_never_commit_a_value_twice(setup):
    workers = race(setup.url, [setup.implementation.id] * 4, 'seq', 250, rollback_share=0.2)
    committed = setup.committed()
    reported = [value for worker in workers for value in worker.taken()]
    k = len(committed)
    assert 0 < k < 1000  # some rolled back
    assert sorted(reported) == committed
    assert len(set(committed)) == k
    for worker in workers:
        handed_out = worker.handed_out()
        assert len(handed_out) == 250
        assert handed_out == sorted(handed_out)
    if setup.implementation.gapless:
        assert committed == list(range(1, k + 1))
        if setup.implementation.uses_table:
            assert stored(setup) == {'seq': k}
    else:
        handed_out = Counter(value for worker in workers for value in worker.handed_out())
        assert sum(handed_out.values()) == 1000
        assert [value for value, times in handed_out.items() if times > 1] == []


def test_a_process_that_starts_after_the_others_continues_above_them(setup):
    first = race(setup.url, [setup.implementation.id] * 2, 'seq', 100, rollback_share=0.25)
    committed = setup.committed()
    [later] = race(setup.url, [setup.implementation.id], 'seq', 1, rollback_share=0)
    [value] = later.taken()
    assert value > max(committed)
    if not setup.implementation.gapless:  # a gapless sequence hands rolled back values out again
        assert value > max(value for worker in first for value in worker.handed_out())


def test_processes_registering_one_name_at_once_all_succeed(setup):
    race(setup.url, [setup.implementation.id] * 4, 'fresh', 0)
    if setup.implementation.uses_table:
        assert stored(setup) == {'fresh': 0}
    with Session(setup.engine()) as session:
        assert setup.implementation.create('fresh', session).current(session) is None


def test_threads_sharing_one_sequence_object_never_commit_a_value_twice(setup):
    register_session(engine=setup.engine())
    with transaction.manager:
        setup.implementation.register('shared', get_session())
    sequence = get_sequence('shared')
    threads, transactions = 8, 50
    errors = []

    def work():
        try:
            for _ in range(transactions):
                with transaction.manager:
                    session = get_session()
                    session.execute(taken.insert().values(name='shared', value=sequence.next(session)))
                    mark_changed(session)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            get_session().close()

    run_in_threads(work, threads)
    assert errors == []
    committed = setup.committed('shared')
    assert len(committed) == len(set(committed)) == threads * transactions
    if setup.implementation.gapless:
        assert committed == list(range(1, threads * transactions + 1))
