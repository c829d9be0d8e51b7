"""Sources and configs create and drop groups of tables."""
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect

from mortar_rdb.controlled import Config, Source
from mortar_rdb.sequence.generic import source as sequences_source

things = Table('things', MetaData(), Column('id', Integer, primary_key=True))


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


def test_creating_twice_leaves_existing_tables_alone(db_url):
    engine = create_engine(db_url)
    Source(things).create(engine)
    Source(things).create(engine)
    engine.dispose()
    assert table_names(db_url) == {'things'}


def test_a_table_shared_by_two_sources_is_created_once():
    config = Config(Source(things), Source(things))
    assert list(config.metadata.tables) == ['things']
