"""Failures only the command line meets, each made from its facts like the errors of :mod:`..errors`.

:mod:`.messages` says them in one line; ``str()`` says the same for a log.
"""
from __future__ import annotations

__all__ = ['CommandFailure', 'DatabaseUnreachable', 'DriverMissing', 'NoDatabaseFile']


class CommandFailure(Exception):
    """A failure the command line meets before the library is involved."""


class NoDatabaseFile(CommandFailure):
    """A command that creates nothing was given a SQLite URL whose file does not exist."""

    def __init__(self, path: str, url: str) -> None:
        super().__init__(path, url)
        self.path = path
        self.url = url

    def __str__(self) -> str:
        return f'There is no database file {self.path!r} for {self.url}.'


class DatabaseUnreachable(CommandFailure):
    """Connecting failed: ``reason`` is the driver's first line; ``silent``
    is true when nothing answered in time."""

    def __init__(self, url: str, reason: str, silent: bool) -> None:
        super().__init__(url, reason, silent)
        self.url = url
        self.reason = reason
        self.silent = silent

    def __str__(self) -> str:
        return f'Could not connect to {self.url} ({self.reason}).'


class DriverMissing(CommandFailure):
    """The driver module a URL needs is not installed.

    ``module`` is the module Python could not import, ``install`` the command
    that brings it (None when we do not know its package), ``driver`` the
    URL's ``backend+driver`` the command line used, and ``given`` the URL's
    own, when it named an async driver the command line replaced with its
    sync twin.
    """

    def __init__(self, url: str, module: str, install: str | None, driver: str, given: str | None = None) -> None:
        super().__init__(url, module, install, driver, given)
        self.url = url
        self.module = module
        self.install = install
        self.driver = driver
        self.given = given

    def __str__(self) -> str:
        return f'The driver module {self.module!r} for {self.url} is not installed.'
