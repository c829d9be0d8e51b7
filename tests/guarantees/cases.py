"""Where a guarantee test applies: the marks that conftest.py's
pytest_generate_tests reads to generate only the combinations that apply."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.implementations import Implementation


def applies(predicate: Callable[[Implementation, str], bool]) -> pytest.MarkDecorator:
    """Run the test only for the (implementation, backend) pairs where
    ``predicate(implementation, backend)`` holds; the backend is
    SQLAlchemy's name ('sqlite', 'postgresql', 'mysql' for MariaDB)."""
    return pytest.mark.applies(predicate=predicate)


#: Only where a server runs the database: SQLite runs in the process.
on_servers = applies(lambda implementation, backend: backend != 'sqlite')
#: Only implementations whose next() runs on the caller's connection.
on_callers_connection = applies(lambda implementation, backend: implementation.uses_callers_connection)
#: Only implementations with a connection of their own.
on_own_connection = applies(lambda implementation, backend: not implementation.uses_callers_connection)
