"""Which databases the tests run on: SQLite always, servers when configured."""
from __future__ import annotations

import os

SERVERS = {
    'postgresql': 'MORTAR_RDB_TEST_POSTGRESQL',
    'mariadb': 'MORTAR_RDB_TEST_MARIADB',
}


def server_urls() -> dict[str, str]:
    """The configured servers' SQLAlchemy URLs, by backend name."""
    return {name: os.environ[variable] for name, variable in SERVERS.items() if os.environ.get(variable)}
