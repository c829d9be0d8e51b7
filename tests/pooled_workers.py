"""Work run in other processes by the concurrency tests.

Functions here are importable by name, so a 'spawn' child (which starts a
fresh interpreter) can run them.
"""
from __future__ import annotations

import random

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert
from sqlalchemy.orm import Session

from mortar_rdb.sequence import generic, pooled

taken_metadata = MetaData()
#: What the workers' committed transactions stored: a duplicate value would
#: break the primary key.
taken = Table('taken', taken_metadata, Column('value', Integer, primary_key=True, autoincrement=False))

IMPLEMENTATIONS = {'generic': (generic.SequenceImplementation, {}), 'pooled': (pooled.SequenceImplementation, {})}


def take_values(url: str, name: str, impl: str, options: dict, count: int, rollback_rate: float, seed: int) -> dict:
    """Take ``count`` values, each in a transaction that stores it and may roll back.

    Returns every value handed out, and those whose transaction committed.
    """
    engine = create_engine(url)
    chance = random.Random(seed)
    handed_out: list[int] = []
    committed: list[int] = []
    factory, defaults = IMPLEMENTATIONS[impl]
    try:
        with Session(engine) as session:
            with session.begin():
                sequence = factory(name, session, **{**defaults, **options})
            for _ in range(count):
                session.begin()
                value = sequence.next(session)
                handed_out.append(value)
                session.execute(insert(taken).values(value=value))
                if chance.random() < rollback_rate:
                    session.rollback()
                else:
                    session.commit()
                    committed.append(value)
    finally:
        engine.dispose()
    return {'handed_out': handed_out, 'committed': committed}
