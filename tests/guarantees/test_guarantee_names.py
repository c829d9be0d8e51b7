"""Hostile sequence names: stored and used verbatim, or refused with a clear
ValueError or TypeError. Never SQL."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, select
from sqlalchemy.orm import Session

from mortar_rdb.sequence.generic import sequences
from tests.guarantees.cases import applies

#: names that must each be a sequence of their own
VERBATIM = [
    'a', 'A', 'a ', ' a', 'a\t', 'a\n', ' ',
    "it's", "'", "''", 'say "hi"', '`tick`', '[bracket]',
    "x'; DROP TABLE sequences; --", 'x; DELETE FROM sequences', '--', '/* c */',
    'back\\slash', '\\', '\\0', "\\'",
    '%s', '%(seq_name)s', ':seq_name', '?', '$1', '{}',
    'ünïcødé', 'İstanbul', 'istanbul', 'ß', 'ss', 'Ω', '☃', '😀', '中文名',
    'e\u0301', '\u00e9',  # the same letter, decomposed and composed
    'x' * 255,
]

REFUSED: list[tuple[Any, type[Exception]]] = [
    ('', ValueError),
    (None, TypeError),
    (1, TypeError),
    (b'bytes', TypeError),
    (['list'], TypeError),
    ('nul\x00byte', ValueError),
    ('\x00', ValueError),
    ('\ud800', ValueError),  # a lone surrogate: not text any database stores
    ('x' * 256, ValueError),
]


def names_in(engine: Any) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(sequences.c.name)))


def usable(setup: Any) -> list[str]:
    """The hostile names that ``setup``'s implementation stores verbatim."""
    return [name for name in VERBATIM if not setup.implementation.refuses_name(name, setup.backend)]


def test_every_hostile_name_is_a_sequence_of_its_own(setup):
    engine = setup.engine()
    with Session(engine) as session:
        created = {name: setup.implementation.register(name, session) for name in usable(setup)}
        session.commit()
    with Session(engine) as session:
        firsts = {name: sequence.next(session) for name, sequence in created.items()}
        seconds = {name: sequence.next(session) for name, sequence in created.items()}
        session.commit()
    assert set(firsts.values()) == {1}
    if setup.implementation.gapless or not setup.implementation.uses_table:
        assert set(seconds.values()) == {2}
    else:  # a new block each
        assert all(second > 1 for second in seconds.values())
    if setup.implementation.uses_table:
        assert names_in(engine) == set(VERBATIM)


@applies(lambda implementation, backend: any(implementation.refuses_name(name, backend) for name in VERBATIM))
def test_a_hostile_name_beyond_the_databases_identifier_rules_is_refused_naming_the_rule(setup):
    refused = sorted(set(VERBATIM) - set(usable(setup)))
    assert refused
    with Session(setup.engine()) as session:
        for name in refused:
            with pytest.raises(ValueError, match='names'):
                setup.implementation.register(name, session)


def test_a_hostile_name_registered_again_continues_where_it_was(setup):
    engine = setup.engine()
    name = "x'); DELETE FROM sequences; --"
    with Session(engine) as session:
        assert setup.implementation.register(name, session).next(session) == 1
        session.commit()
    with Session(engine) as session:
        second = setup.implementation.register(name, session).next(session)
        session.commit()
    # A pooled sequence registered again reserves a new block.
    assert second == 2 if setup.implementation.gapless else second > 1
    assert inspect(engine).has_table('sequences') or not setup.implementation.uses_table


@pytest.mark.parametrize(('name', 'error'), REFUSED, ids=repr)
def test_a_name_that_cannot_be_stored_verbatim_is_refused(setup, name, error):
    engine = setup.engine()
    with Session(engine) as session:
        with pytest.raises(error, match='sequence name'):
            setup.implementation.register(name, session)
        session.commit()
    if setup.implementation.uses_table:
        assert names_in(engine) == set()


@applies(lambda implementation, backend: implementation.uses_table)
def test_a_name_too_long_for_a_legacy_table_is_refused_naming_the_limit(setup):
    engine = setup.engine()
    sequences.drop(engine)
    old = MetaData()
    Table('sequences', old, Column('name', String(20), primary_key=True), Column('current', Integer))
    old.create_all(engine)
    with Session(engine) as session:
        setup.implementation.register('x' * 20, session)
        with pytest.raises(ValueError, match='at most 20'):
            setup.implementation.register('x' * 21, session)
