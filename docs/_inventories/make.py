"""Write the intersphinx inventories the docs link other projects' docs with.

The build must not need the network, so instead of each project's own
``objects.inv`` the docs use these: small inventories in the same format,
holding only the names mortar_rdb's docs and docstrings refer to, each
pointing at its page (and anchor) in that project's documentation. Some
entries are the name a type hint gives (``sqlalchemy.orm.session.Session``)
for an object documented under its public name; they point at the public
one.

To add a name: add it below, run ``python docs/_inventories/make.py``, and
commit the ``.inv`` files. ``tests/test_docs.py`` checks they are current.
"""
from __future__ import annotations

import zlib
from pathlib import Path

HERE = Path(__file__).parent

#: project: (documentation URL, version, {(name, domain:role): 'page#anchor'}); '#$' means '#' + name.
INVENTORIES: dict[str, tuple[str, str, dict[tuple[str, str], str]]] = {
    'python': (
        'https://docs.python.org/3/',
        '3',
        {
            ('argparse.ArgumentParser', 'py:class'): 'library/argparse.html#$',
            ('argparse.Namespace', 'py:class'): 'library/argparse.html#$',
            ('asyncio.Lock', 'py:class'): 'library/asyncio-sync.html#$',
            ('collections.abc.Callable', 'py:class'): 'library/collections.abc.html#$',
            ('collections.abc.Iterable', 'py:class'): 'library/collections.abc.html#$',
            ('collections.abc.Iterator', 'py:class'): 'library/collections.abc.html#$',
            ('collections.abc.Sequence', 'py:class'): 'library/collections.abc.html#$',
            ('multiprocessing', 'py:module'): 'library/multiprocessing.html#module-multiprocessing',
            ('range', 'py:class'): 'library/stdtypes.html#$',
            ('typing.Protocol', 'py:class'): 'library/typing.html#$',
            ('unittest.TestCase', 'py:class'): 'library/unittest.html#$',
        },
    ),
    'sqlalchemy': (
        'https://docs.sqlalchemy.org/en/20/',
        '2.0',
        {
            ('sqlalchemy.engine.Connection', 'py:class'): 'core/connections.html#$',
            ('sqlalchemy.engine.base.Connection', 'py:class'): 'core/connections.html#sqlalchemy.engine.Connection',
            ('sqlalchemy.engine.Engine', 'py:class'): 'core/connections.html#$',
            ('sqlalchemy.engine.base.Engine', 'py:class'): 'core/connections.html#sqlalchemy.engine.Engine',
            ('sqlalchemy.engine.URL', 'py:class'): 'core/engines.html#$',
            ('sqlalchemy.engine.url.URL', 'py:class'): 'core/engines.html#sqlalchemy.engine.URL',
            ('sqlalchemy.event.listen', 'py:function'): 'core/event.html#$',
            ('sqlalchemy.ext.asyncio.AsyncEngine', 'py:class'): 'orm/extensions/asyncio.html#$',
            ('sqlalchemy.ext.asyncio.AsyncSession', 'py:class'): 'orm/extensions/asyncio.html#$',
            ('sqlalchemy.ext.asyncio.AsyncSession.run_sync', 'py:method'): 'orm/extensions/asyncio.html#$',
            ('sqlalchemy.ext.asyncio.async_scoped_session', 'py:class'): 'orm/extensions/asyncio.html#$',
            ('sqlalchemy.ext.asyncio.create_async_engine', 'py:function'): 'orm/extensions/asyncio.html#$',
            ('sqlalchemy.ext.asyncio.session.AsyncSession', 'py:class'): (
                'orm/extensions/asyncio.html#sqlalchemy.ext.asyncio.AsyncSession'
            ),
            ('sqlalchemy.ext.asyncio.scoping.async_scoped_session', 'py:class'): (
                'orm/extensions/asyncio.html#sqlalchemy.ext.asyncio.async_scoped_session'
            ),
            ('sqlalchemy.exc.InternalError', 'py:exception'): 'core/exceptions.html#$',
            ('sqlalchemy.exc.OperationalError', 'py:exception'): 'core/exceptions.html#$',
            ('sqlalchemy.exc.ProgrammingError', 'py:exception'): 'core/exceptions.html#$',
            ('sqlalchemy.orm.DeclarativeBase', 'py:class'): 'orm/mapping_api.html#$',
            ('sqlalchemy.orm.declarative_base', 'py:function'): 'orm/mapping_api.html#$',
            ('sqlalchemy.orm.Session', 'py:class'): 'orm/session_api.html#$',
            ('sqlalchemy.orm.session.Session', 'py:class'): 'orm/session_api.html#sqlalchemy.orm.Session',
            ('sqlalchemy.orm.sessionmaker', 'py:class'): 'orm/session_api.html#$',
            ('sqlalchemy.orm.scoped_session', 'py:class'): 'orm/contextual.html#$',
            ('sqlalchemy.orm.scoping.scoped_session', 'py:class'): 'orm/contextual.html#sqlalchemy.orm.scoped_session',
            ('sqlalchemy.schema.MetaData', 'py:class'): 'core/metadata.html#$',
            ('sqlalchemy.sql.schema.MetaData', 'py:class'): 'core/metadata.html#sqlalchemy.schema.MetaData',
            ('sqlalchemy.schema.Table', 'py:class'): 'core/metadata.html#$',
            ('sqlalchemy.sql.schema.Table', 'py:class'): 'core/metadata.html#sqlalchemy.schema.Table',
        },
    ),
    'transaction': (
        'https://transaction.readthedocs.io/en/latest/',
        '5',
        {
            ('transaction', 'py:module'): 'api.html#module-transaction',
            ('transaction.interfaces.TransientError', 'py:exception'): 'api.html#$',
            # The docs say transaction.manager.attempts(); the manager's
            # methods are documented on its interface.
            ('transaction.manager.attempts', 'py:method'): (
                'api.html#transaction.interfaces.ITransactionManager.attempts'
            ),
            ('transaction.manager.run', 'py:method'): 'api.html#transaction.interfaces.ITransactionManager.run',
        },
    ),
    'zope.interface': (
        'https://zopeinterface.readthedocs.io/en/latest/',
        '8',
        {
            ('zope.interface.Interface', 'py:class'): 'api/declarations.html#$',
            ('zope.interface.registry.Components', 'py:class'): 'api/components.html#$',
            ('zope.interface.interfaces.ComponentLookupError', 'py:exception'): 'api/components.html#$',
        },
    ),
    'zope.component': (
        'https://zopecomponent.readthedocs.io/en/latest/',
        '7',
        {
            ('zope.component.getSiteManager', 'py:function'): 'api/sitemanager.html#$',
        },
    ),
    'alembic': (
        'https://alembic.sqlalchemy.org/en/latest/',
        '1',
        {
            ('alembic.operations.Operations', 'py:class'): 'ops.html#$',
            ('alembic.operations.base.Operations', 'py:class'): 'ops.html#alembic.operations.Operations',
        },
    ),
}


def inventory(project: str, version: str, entries: dict[tuple[str, str], str]) -> bytes:
    """An ``objects.inv`` (version 2) holding ``entries``."""
    header = f'# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n'
    header += '# The remainder of this file is compressed using zlib.\n'
    lines = ''.join(
        f'{name} {role} 1 {location} -\n' for (name, role), location in sorted(entries.items())
    )
    return header.encode() + zlib.compress(lines.encode(), 9)


def write() -> list[Path]:
    """Write every inventory beside this file; return their paths."""
    paths = []
    for project, (_url, version, entries) in INVENTORIES.items():
        path = HERE / f'{project}.inv'
        path.write_bytes(inventory(project, version, entries))
        paths.append(path)
    return paths


if __name__ == '__main__':
    for written in write():
        print(written)
