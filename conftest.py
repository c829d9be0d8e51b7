"""Every test that takes ``db_url``, and every page of the docs, runs once
per configured database.

SQLite (a file in a temporary directory) always runs. PostgreSQL and MariaDB
run when their URLs are in the environment, and then they must be reachable:
a configured database that is down fails the run.
"""
from __future__ import annotations

import ast
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from doctest import ELLIPSIS
from typing import Any

import pytest
import transaction
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import scoped_session, sessionmaker
from sybil import Document, Example, Region, Sybil
from sybil.parsers.rest import DocTestParser, PythonCodeBlockParser, SkipParser
from sybil.sybil import SybilCollection
from zope.interface.registry import Components

from mortar_rdb import registry
from mortar_rdb.interfaces import ISession
from tests.databases import async_url, empty_database, server_urls


def pytest_report_header(config: pytest.Config) -> str:
    return 'databases: ' + ', '.join(['sqlite', *server_urls()])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'applies_nowhere: a test for none of the configured databases (deselected)')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests that apply to none of the configured databases:
    they are not skipped work, they are not this run's work."""
    nowhere = [item for item in items if item.get_closest_marker('applies_nowhere')]
    if nowhere:
        config.hook.pytest_deselected(items=nowhere)
        items[:] = [item for item in items if not item.get_closest_marker('applies_nowhere')]


def pytest_sessionstart(session: pytest.Session) -> None:
    for name, url in server_urls().items():
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text('SELECT 1'))
        except Exception as error:
            raise pytest.UsageError(f'{name} is configured ({url}) but unreachable: {error}') from error
        finally:
            engine.dispose()


def close_registered_sessions(components: Components) -> None:
    """Abort the transaction, close every session registered in ``components``
    and dispose of its engine."""
    transaction.abort()
    for registration in components.registeredUtilities():
        if registration.provided is ISession:
            factory = registration.component
            if isinstance(factory, scoped_session):
                factory.remove()
                factory = factory.session_factory
            if isinstance(factory, sessionmaker):
                factory.kw['bind'].dispose()


@pytest.fixture(params=['sqlite', *server_urls()])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database, one per configured backend."""
    return empty_database(request.param, str(tmp_path_factory.mktemp('sqlite')))


@pytest.fixture(autouse=True)
def isolated_registry() -> Iterator[None]:
    """Registrations made by a test are forgotten, and its engines closed.

    The test runs with a fresh zope.component site manager. A test module
    that checks some other isolation (TestComponents, zope.component's
    testing clean-up) overrides this fixture with one that does nothing.
    """
    with registry.isolated() as components:
        try:
            yield
        finally:
            close_registered_sessions(components)


def chooses_the_url(source: str) -> bool:
    """Whether ``source`` is a page's choice of database: ``db_url = '...'`` alone."""
    try:
        (statement,) = ast.parse(source).body
    except (SyntaxError, ValueError):
        return False
    return (
        isinstance(statement, ast.Assign)
        and [ast.unparse(target) for target in statement.targets] == ['db_url']
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def on_the_test_database(parser: Callable[[Document], Iterable[Region]]) -> Callable[[Document], Iterable[Region]]:
    """``parser``'s examples, where the one that chooses the database URL
    (``db_url = 'sqlite:///...'``, visible on the page) is followed by
    setting ``db_url`` to the test database instead.

    This is the only thing the tests change in what a page shows: the
    pages get no other name from the test set-up, so every other line they
    run is visible to their reader.
    """

    def parse(document: Document) -> Iterable[Region]:
        for region in parser(document):
            evaluator = region.evaluator
            if evaluator is not None:
                region.evaluator = replacing_the_url(evaluator)
            yield region

    def replacing_the_url(evaluator: Callable[[Example], Any]) -> Callable[[Example], Any]:
        def evaluate(example: Example) -> Any:
            result = evaluator(example)
            source = getattr(example.parsed, 'source', example.parsed)
            if isinstance(source, str) and chooses_the_url(source):
                example.namespace['db_url'] = through_the_same_kind_of_driver(
                    example.namespace['db_url'], example.namespace['_test_database_url']
                )
            return result

        return evaluate

    return parse


def through_the_same_kind_of_driver(chosen: str, test_database_url: str) -> str:
    """The test database's URL, through an async driver if the page chose one (docs/asyncio.rst)."""
    if make_url(chosen).get_dialect().is_async:
        return async_url(test_database_url)
    return test_database_url


def _docs_on(backend: str) -> Sybil:
    """The doctests of README.rst and docs/, run against ``backend``."""

    def setup(namespace: dict[str, Any]) -> None:
        stack = namespace['_cleanup'] = ExitStack()
        directory = tempfile.mkdtemp()
        stack.callback(shutil.rmtree, directory, ignore_errors=True)
        components = stack.enter_context(registry.isolated())
        stack.callback(close_registered_sessions, components)
        namespace['_test_database_url'] = empty_database(backend, directory)
        namespace['work_directory'] = directory

    def teardown(namespace: dict[str, Any]) -> None:
        namespace['_cleanup'].close()

    return Sybil(
        parsers=[
            on_the_test_database(DocTestParser(optionflags=ELLIPSIS)),
            on_the_test_database(PythonCodeBlockParser()),
            SkipParser(),
        ],
        patterns=['README.rst', 'docs/*.rst'],
        setup=setup,
        teardown=teardown,
        name=backend,
    )


pytest_collect_file = SybilCollection(_docs_on(backend) for backend in ['sqlite', *server_urls()]).pytest()
