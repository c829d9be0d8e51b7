"""Work done in child processes by tests/test_native.py.

It lives in its own importable module because the 'spawn' start method
imports the worker function by name in a fresh interpreter.
"""
from __future__ import annotations

import random
from typing import Any

import transaction

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import native, register_sequence


def take_values(url: str, name: str, count: int, seed: int, barrier: Any, results: Any) -> None:
    """Register ``name`` when every worker is ready, then take ``count`` values.

    Each value is taken in its own transaction; about a quarter of them are
    rolled back. Every value taken, kept or not, goes to ``results``.
    """
    register_session(url)
    session = get_session()
    barrier.wait(timeout=60)
    sequence = register_sequence(name, session, impl=native.SequenceImplementation)
    transaction.commit()
    chance = random.Random(seed)
    values = []
    for _ in range(count):
        transaction.begin()
        values.append(sequence.next(session))
        if chance.random() < 0.25:
            transaction.abort()
        else:
            transaction.commit()
    session.close()
    session.bind.dispose()
    results.put(values)
