"""declarative_base shares one base per set of arguments; TestingBase swaps in fresh ones."""
import pytest
from sqlalchemy import Column, Integer, MetaData

from mortar_rdb import declarative_base
from mortar_rdb.testing import TestingBase


@pytest.fixture(autouse=True)
def fresh_bases():
    """Bases made by a test are not the suite's."""
    with TestingBase():
        yield


def test_calls_with_no_arguments_share_one_base():
    assert declarative_base() is declarative_base()


def test_calls_with_equal_arguments_share_one_base():
    metadata = MetaData()
    assert declarative_base(metadata=metadata, name='Model') is declarative_base(name='Model', metadata=metadata)


def test_calls_with_different_arguments_get_different_bases():
    assert declarative_base(name='One') is not declarative_base(name='Two')


def test_unhashable_arguments_are_compared_by_value():
    assert declarative_base(class_registry={}) is declarative_base(class_registry={})


def test_models_of_a_shared_base_share_one_metadata():
    class First(declarative_base()):
        __tablename__ = 'first'
        id = Column(Integer, primary_key=True)

    class Second(declarative_base()):
        __tablename__ = 'second'
        id = Column(Integer, primary_key=True)

    assert First.metadata is Second.metadata
    assert set(First.metadata.tables) == {'first', 'second'}


def test_the_base_is_sqlalchemy_2s_declarative_base():
    base = declarative_base(name='Named')
    assert base.__name__ == 'Named'
    assert isinstance(base.metadata, MetaData)
    assert base.registry.metadata is base.metadata


def test_bind_says_what_to_do_instead():
    with pytest.raises(TypeError, match=r'declarative_base\(bind=...\).*register_session\(engine=...\)'):
        declarative_base(bind=object())


def test_an_argument_sqlalchemy_does_not_take_is_named():
    with pytest.raises(TypeError, match=r"does not take 'colour'.*accepts only .*metadata"):
        declarative_base(colour='blue')


def test_testing_base_hands_out_a_fresh_base_until_restored():
    shared = declarative_base()
    testing = TestingBase()
    fresh = declarative_base()
    testing.restore()
    assert fresh is not shared
    assert declarative_base() is shared


def test_testing_base_keeps_handing_out_the_same_fresh_base():
    testing = TestingBase()
    try:
        assert declarative_base() is declarative_base()
    finally:
        testing.restore()


def test_testing_base_as_a_context_manager_gives_the_fresh_base():
    shared = declarative_base()
    with TestingBase() as Base:
        assert Base is declarative_base()
        assert Base is not shared
    assert declarative_base() is shared


def test_testing_base_restores_when_the_block_raises():
    shared = declarative_base()
    with pytest.raises(RuntimeError), TestingBase():
        raise RuntimeError('boom')
    assert declarative_base() is shared


def test_models_defined_under_testing_base_stay_out_of_the_shared_metadata():
    shared = declarative_base()
    with TestingBase() as Base:

        class Scratch(Base):
            __tablename__ = 'scratch'
            id = Column(Integer, primary_key=True)

    assert 'scratch' not in shared.metadata.tables


def test_restoring_twice_is_harmless():
    shared = declarative_base()
    testing = TestingBase()
    testing.restore()
    inner = TestingBase()
    testing.restore()
    assert declarative_base() is not shared
    inner.restore()
    assert declarative_base() is shared
