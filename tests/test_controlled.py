"""Sources and configs group tables: they create and drop them, and a table belongs to one source."""
import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, create_engine, inspect

from mortar_rdb import declarative_base
from mortar_rdb.controlled import Config, Source
from mortar_rdb.sequence.generic import source as sequences_source
from mortar_rdb.testing import TestingBase

things = Table('things', MetaData(), Column('id', Integer, primary_key=True))
others = Table('others', MetaData(), Column('id', Integer, primary_key=True))
parts = Table(
    'parts',
    MetaData(),
    Column('id', Integer, primary_key=True),
    Column('thing_id', Integer, ForeignKey('things.id')),
)


def table_names(url):
    engine = create_engine(url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_a_config_creates_the_tables_of_all_its_sources(db_url):
    engine = create_engine(db_url)
    Config(sequences_source, Source(things)).create(engine)
    engine.dispose()
    assert table_names(db_url) == {'sequences', 'things'}


def test_a_config_drops_the_tables_of_all_its_sources(db_url):
    engine = create_engine(db_url)
    config = Config(sequences_source, Source(things))
    config.create(engine)
    config.drop(engine)
    engine.dispose()
    assert table_names(db_url) == set()


def test_a_foreign_key_may_point_into_another_source(db_url):
    engine = create_engine(db_url)
    Config(Source(parts), Source(things)).create(engine)
    engine.dispose()
    assert table_names(db_url) == {'things', 'parts'}


def test_creating_twice_leaves_existing_tables_alone(db_url):
    engine = create_engine(db_url)
    Source(things).create(engine)
    Source(things).create(engine)
    engine.dispose()
    assert table_names(db_url) == {'things'}


def test_a_source_takes_a_declaratively_mapped_class():
    with TestingBase():

        class Model(declarative_base()):
            __tablename__ = 'models'
            id = Column(Integer, primary_key=True)

        assert list(Source(Model).metadata.tables) == ['models']


def test_a_source_refuses_what_is_not_a_table_in_30s_words():
    with pytest.raises(TypeError) as raised:
        Source(things, 'things')
    assert raised.value.args == ("'things' must be a Table object or a declaratively mapped model class.",)


def test_a_source_refuses_a_class_that_is_not_mapped():
    class Plain:
        pass

    with pytest.raises(TypeError, match=r'^<class .*Plain.*> must be a Table object or a declaratively mapped'):
        Source(Plain)


def test_a_config_keeps_its_sources_in_order():
    first, second = Source(things), Source(others)
    assert Config(first, second).sources == (first, second)


def test_a_config_names_all_the_tables_of_its_sources():
    assert Config(Source(things), Source(others, parts)).tables == {'things', 'others', 'parts'}


def test_a_config_excludes_from_each_source_the_tables_of_the_others():
    first, second = Source(things), Source(others, parts)
    assert Config(first, second).excludes == {first: {'others', 'parts'}, second: {'things'}}


def test_a_table_in_two_sources_is_refused_in_30s_words():
    with pytest.raises(ValueError) as raised:
        Config(Source(things), Source(things))
    assert raised.value.args == ('Tables present in more than one Source: things',)


def test_the_refusal_names_every_table_in_more_than_one_source_in_order():
    with pytest.raises(ValueError) as raised:
        Config(Source(things), Source(others), Source(things, others))
    assert str(raised.value) == 'Tables present in more than one Source: others, things'


def test_a_config_refuses_what_is_not_a_source():
    with pytest.raises(TypeError, match=r'argument 1 is Table\('):
        Config(things)
