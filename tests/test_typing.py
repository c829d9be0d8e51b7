"""Code written against the documented API type-checks, under mypy and
pyright with their default settings, as a user's project would run them."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

USER_MODULE = textwrap.dedent(
    '''
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from mortar_rdb import get_session, register_session
    from mortar_rdb.sequence import drop_sequence, get_sequence, native, pooled, register_sequence
    from mortar_rdb.sequence.types import ManagedSequence


    def configure(url: str) -> None:
        register_session(url)
        session = get_session()
        generic_sequence: ManagedSequence = register_sequence('invoices', session, start=1000)
        pooled_sequence: pooled.SequenceImplementation = register_sequence(
            'orders', session, impl=pooled.SequenceImplementation, block_size=10
        )
        native_sequence: native.SequenceImplementation = register_sequence(
            'tickets', session, impl=native.SequenceImplementation
        )
        session.commit()
        print(generic_sequence.name, pooled_sequence.block_size, native_sequence.name)


    def every_implementation_is_a_managed_sequence() -> list[ManagedSequence]:
        from mortar_rdb.sequence import generic

        return [
            generic.SequenceImplementation.for_existing('invoices'),
            native.SequenceImplementation.for_existing('tickets'),
            pooled.SequenceImplementation('orders', get_session()),
        ]


    def take(name: str) -> tuple[int, Sequence[int], int | None, bool]:
        session: Session = get_session()
        sequence = get_sequence(name)
        number: int = sequence.next(session)
        batch = sequence.next_many(session, 3)
        current = sequence.current(session)
        sequence.restart(session, 5000)
        sequence.restart(session, 10, force=True)
        dropped: bool = sequence.drop(session) or drop_sequence(name, session)
        return number, batch, current, dropped


    def plain_session(url: str) -> int:
        from sqlalchemy import create_engine

        with Session(create_engine(url)) as session, session.begin():
            return get_sequence('invoices').next(session)


    def create_the_table_as_the_readme_does() -> bool:
        from mortar_rdb.sequence.schema import create_table

        return create_table(get_session().bind)

    def numbered_tables() -> None:
        from sqlalchemy import BigInteger, Column, MetaData, Table
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        from mortar_rdb.sequence import sequence_value

        class Base(DeclarativeBase):
            pass

        class Invoice(Base):
            __tablename__ = 'invoices'
            id: Mapped[int] = mapped_column(primary_key=True)
            number: Mapped[int] = mapped_column(BigInteger, default=sequence_value('invoices'))

        Table('orders', MetaData(), Column('number', BigInteger, default=sequence_value('orders')))
    '''
)

#: A mortar_rdb 3.0 application's models, as 3.0's documentation wrote them.
MODELS_30 = textwrap.dedent(
    '''
    from sqlalchemy import Column, Integer, String

    from mortar_rdb import declarative_base
    from mortar_rdb.controlled import Config, scan

    Base = declarative_base()


    class Thing(Base):
        __tablename__ = 'things'
        id = Column(Integer, primary_key=True)
        name = Column(String(50))


    thing = Thing(name='widget')
    print(thing.name, Thing.__table__.name, Base.metadata.tables)
    config = Config(scan('user_module'))
    '''
)

#: The mypy configuration that makes declarative_base()'s result a class to mypy.
MYPY_PLUGIN = '[mypy]\nplugins = mortar_rdb.mypy\n'

#: A mistake each checker must report, so that a clean run above means typed, not unchecked.
MISTAKE = textwrap.dedent(
    '''
    from mortar_rdb import get_session
    from mortar_rdb.sequence import get_sequence

    get_sequence('invoices').next_many(get_session(), '3')
    '''
)


def check(tool: list[str], source: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` on a module holding ``source``, in a directory of its own (no project settings)."""
    (tmp_path / 'user_module.py').write_text(source)
    return subprocess.run(
        [sys.executable, '-m', *tool, 'user_module.py'], cwd=tmp_path, capture_output=True, text=True
    )


MYPY = ['mypy', '--no-incremental']
PYRIGHT = ['pyright', '--pythonpath', sys.executable]


@pytest.mark.parametrize('tool', [MYPY, PYRIGHT], ids=['mypy', 'pyright'])
def test_the_documented_calls_type_check(tool, tmp_path):
    result = check(tool, USER_MODULE, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_30s_models_type_check_under_mypy_with_our_plugin(tmp_path):
    (tmp_path / 'mypy.ini').write_text(MYPY_PLUGIN)
    result = check(MYPY, MODELS_30, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_30s_models_type_check_under_pyright(tmp_path):
    result = check(PYRIGHT, MODELS_30, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_our_mypy_plugin_leaves_mistakes_around_the_models_reported(tmp_path):
    (tmp_path / 'mypy.ini').write_text(MYPY_PLUGIN)
    result = check(MYPY, MODELS_30 + "\nname: str = Thing\n", tmp_path)
    assert result.returncode == 1 and 'type[Thing]' in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize('tool', [MYPY, PYRIGHT], ids=['mypy', 'pyright'])
def test_a_wrong_argument_type_is_reported(tool, tmp_path):
    result = check(tool, MISTAKE, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'next_many' in result.stdout, result.stdout
