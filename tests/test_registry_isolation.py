"""Test suites isolate sessions and sequences the way they isolate any
zope.component registration, as with mortar_rdb 3.0.

Each isolation mechanism is checked on its own: this module turns off the
root conftest's ``isolated_registry`` fixture. Each test case registers the
same names in every test and first checks that they are not there yet, so
whichever test runs second proves that the first one leaked nothing.
"""
from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from unittest import TestCase

import pytest
import transaction
import zope.event
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from testfixtures.components import TestComponents
from zope.component import getSiteManager
from zope.interface.interfaces import ComponentLookupError
from zope.interface.registry import Components

from mortar_rdb import get_session, register_session
from mortar_rdb.controlled import Config
from mortar_rdb.interfaces import ISequence, ISession
from mortar_rdb.registry import isolated
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence.generic import source
from mortar_rdb.testing import register_session as register_test_session


@pytest.fixture(autouse=True)
def isolated_registry() -> Iterator[None]:
    """Overrides the root conftest's fixture: here the test isolates itself."""
    yield


def assert_nothing_registered() -> None:
    with pytest.raises(ComponentLookupError):
        get_session('shared')
    with pytest.raises(LookupError):
        get_sequence('shared')


def register_session_and_sequence() -> Session:
    session = register_test_session(config=Config(source), name='shared')
    with transaction.manager:
        register_sequence('shared', session)
    return session


def close(engine: Engine) -> None:
    transaction.abort()
    engine.dispose()


class RegistrationsChecks:
    """The checks every isolation mechanism must pass."""

    def test_it_sees_what_is_registered_inside_it(self) -> None:
        assert_nothing_registered()
        session = register_session_and_sequence()
        assert get_session('shared') is session
        assert get_sequence('shared').next(session) == 1
        close(session.bind)

    def test_it_leaks_nothing_to_the_next_test(self) -> None:
        assert_nothing_registered()
        close(register_session_and_sequence().bind)


class TestTestComponentsInSetUpAndTearDown(RegistrationsChecks, TestCase):
    def setUp(self) -> None:
        self.components = TestComponents()

    def tearDown(self) -> None:
        self.components.uninstall()


class TestZopeComponentTestingCleanUp(RegistrationsChecks, TestCase):
    # Importing zope.component.testing subscribes zope.component's event
    # dispatch for the whole process. That dispatch calls getSiteManager with
    # a context, which the hook TestComponents installs does not take (with
    # 3.0 as now), so this module imports it only here and unsubscribes it
    # after each test.

    def setUp(self) -> None:
        self.subscribers = list(zope.event.subscribers)
        import_module('zope.component.testing').setUp()

    def tearDown(self) -> None:
        import_module('zope.component.testing').tearDown()
        zope.event.subscribers[:] = self.subscribers


class TestIsolatedInSetUpAndTearDown(RegistrationsChecks, TestCase):
    def setUp(self) -> None:
        self.isolation = isolated()
        self.isolation.__enter__()

    def tearDown(self) -> None:
        self.isolation.__exit__(None, None, None)


@pytest.fixture
def test_components() -> Iterator[TestComponents]:
    """TestComponents for the length of a test, as a pytest suite uses it."""
    components = TestComponents()
    try:
        yield components
    finally:
        components.uninstall()


def test_sessions_registered_under_test_components_are_in_its_registry(test_components):
    register_session('sqlite://', 'mine')
    assert isinstance(test_components.registry.getUtility(ISession, 'mine')(), Session)
    close(get_session('mine').bind)


def test_sequences_registered_under_test_components_are_in_its_registry(test_components):
    session = register_session_and_sequence()
    assert test_components.registry.getUtility(ISequence, 'shared') is get_sequence('shared')
    close(session.bind)


def test_test_components_forgets_its_registrations_when_uninstalled():
    components = TestComponents()
    try:
        close(register_session_and_sequence().bind)
    finally:
        components.uninstall()
    assert_nothing_registered()


def test_isolated_forgets_its_registrations_at_the_end_of_the_block():
    with isolated():
        close(register_session_and_sequence().bind)
    assert_nothing_registered()


def test_a_hooked_in_registry_sees_sessions_and_sequences():
    # What Pyramid's Configurator.hook_zca() does with the application's registry.
    registry = Components('application')
    getSiteManager.sethook(lambda context=None: registry)
    try:
        session = register_session_and_sequence()
        assert registry.getUtility(ISession, 'shared')() is session
        assert registry.getUtility(ISequence, 'shared') is get_sequence('shared')
        close(session.bind)
    finally:
        getSiteManager.reset()
    assert_nothing_registered()

