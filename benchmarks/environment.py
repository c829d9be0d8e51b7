"""What the figures were measured on: software versions and the machine."""
from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata

from sqlalchemy import Engine, text

SERVER_VERSION = {
    'postgresql': 'SHOW server_version',
    'mysql': 'SELECT VERSION()',
    'mariadb': 'SELECT VERSION()',
    'sqlite': 'SELECT sqlite_version()',
}


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return 'not installed'


def software() -> str:
    names = ('mortar_rdb', 'SQLAlchemy', 'psycopg', 'psycopg-binary', 'PyMySQL')
    packages = ', '.join(f'{name} {package_version(name)}' for name in names)
    python = f'Python {platform.python_version()} ({platform.python_implementation()})'
    return f'{python}, {packages}, sqlite3 library {sqlite3.sqlite_version}'


def machine() -> str:
    model = platform.processor() or 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    load = ', '.join(f'{figure:.2f}' for figure in os.getloadavg()) if hasattr(os, 'getloadavg') else 'n/a'
    return f'{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; load average {load}'


def server(engine: Engine) -> str:
    with engine.connect() as connection:
        version = connection.execute(text(SERVER_VERSION[engine.dialect.name])).scalar()
    return f'{engine.dialect.name} {version} via {engine.dialect.driver}'
