"""Groups of tables that an application creates and drops together.

A package that owns tables exports a :class:`Source` for them, usually made
by :func:`scan`; the application lists the sources it uses in one
:class:`Config`, which can create and drop all of their tables, and a
:class:`Scripts` harness gives that config a command line.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterable, Iterator
from types import ModuleType

from sqlalchemy import Connection, Engine, MetaData, Table
from sqlalchemy import inspect as inspect_sqlalchemy
from sqlalchemy.orm import Mapper

from .scripts import Scripts

__all__ = ['Source', 'scan', 'Config', 'Scripts']


class _Tables:
    metadata: MetaData

    def create(self, bind: Engine | Connection, checkfirst: bool = True) -> None:
        """Create the tables; by default only those that are missing."""
        self.metadata.create_all(bind, checkfirst=checkfirst)

    def drop(self, bind: Engine | Connection, checkfirst: bool = True) -> None:
        """Drop the tables; by default only those that exist."""
        self.metadata.drop_all(bind, checkfirst=checkfirst)


def _mapped_table(value: object) -> Table | None:
    """The table a declaratively mapped class is mapped to, else None."""
    if not isinstance(value, type):
        return None
    mapper: object = inspect_sqlalchemy(value, raiseerr=False)
    if isinstance(mapper, Mapper) and isinstance(mapper.local_table, Table):
        return mapper.local_table
    return None


def _table_of(value: object) -> Table:
    """``value``'s table, refused in 3.0's words (test suites compare them)."""
    if isinstance(value, Table):
        return value
    table = _mapped_table(value)
    if table is None:
        raise TypeError(f'{value!r} must be a Table object or a declaratively mapped model class.')
    return table


class Source(_Tables):
    """The tables one package needs, copied into their own ``metadata``.

    Pass :class:`~sqlalchemy.schema.Table` objects or declaratively mapped
    classes; anything else raises a :class:`TypeError` naming it, in 3.0's
    words.
    """

    def __init__(self, *tables: Table | type) -> None:
        self.metadata = MetaData()
        resolved = [_table_of(table) for table in tables]
        self.tables = tuple(table.to_metadata(self.metadata) for table in resolved)


def _submodules(package: ModuleType) -> Iterator[ModuleType]:
    """Every module below ``package``, importing each; skip those that cannot be imported yet."""
    for info in pkgutil.iter_modules(package.__path__, prefix=package.__name__ + '.'):
        if info.name.endswith('.__main__'):
            continue  # a package's command line: importing it may run it
        try:
            module = importlib.import_module(info.name)
        except (ImportError, AttributeError) as error:
            if _waits_for_a_module_being_imported(error):
                # It needs a name from a module that is itself still being
                # imported, typically the one calling scan() (as in
                # `source = scan('sample')` at the bottom of sample/model.py).
                continue
            raise
        yield module
        if info.ispkg:
            yield from _submodules(module)


def _waits_for_a_module_being_imported(error: ImportError | AttributeError) -> bool:
    if isinstance(error, ImportError):
        module = sys.modules.get(error.name or '')
    else:
        module = getattr(error, 'obj', None)
    return bool(getattr(getattr(module, '__spec__', None), '_initializing', False))


def _models_defined_in(module: ModuleType) -> Iterator[Table]:
    for value in list(vars(module).values()):
        table = _mapped_table(value)
        if table is not None and getattr(value, '__module__', None) == module.__name__:
            yield table


def scan(package: str, tables: Iterable[Table | type] = ()) -> Source:
    """A :class:`Source` of the declaratively mapped models of a package, plus ``tables``.

    ``package`` is the dotted name of a package or module (not a
    distribution name). It and all its submodules are imported, and every
    class mapped by declarative that is defined in one of them contributes
    its table. Models imported from elsewhere, and plain
    :class:`~sqlalchemy.schema.Table` objects, are not picked up: pass
    such tables in ``tables``.

    A package's ``__main__`` module is not imported, since that may run its
    command line. A submodule that cannot be imported yet, because it
    imports a name from a module that is still being imported (typically the
    one calling :func:`scan`), is skipped.
    """
    root = importlib.import_module(package)
    modules = [root]
    if hasattr(root, '__path__'):
        modules.extend(_submodules(root))
    found: dict[int, Table] = {}
    for module in modules:
        for table in _models_defined_in(module):
            found.setdefault(id(table), table)
    for given in tables:
        resolved = _table_of(given)
        found.setdefault(id(resolved), resolved)
    return Source(*found.values())


class Config(_Tables):
    """The sources one application uses, with all their tables in ``metadata``.

    A table may come from one source only: a table in several sources raises
    a :class:`ValueError` naming every such table, in 3.0's words.
    """

    #: The :class:`Source` objects, in the order given.
    sources: tuple[Source, ...]
    #: The names of all the tables of all the sources.
    tables: set[str]
    #: For each source, the names of the tables of the other sources: those it does not manage.
    excludes: dict[Source, set[str]]

    def __init__(self, *sources: Source) -> None:
        for position, source in enumerate(sources, start=1):
            if not isinstance(source, Source):
                raise TypeError(f'Config() takes Source objects, but argument {position} is {source!r}.')
        _refuse_shared_tables(sources)
        self.sources = sources
        self.metadata = MetaData()
        for source in sources:
            for table in source.tables:
                table.to_metadata(self.metadata)
        self.tables = set(self.metadata.tables)
        self.excludes = {source: self.tables - set(source.metadata.tables) for source in sources}


def _refuse_shared_tables(sources: Iterable[Source]) -> None:
    seen: set[str] = set()
    shared: set[str] = set()
    for source in sources:
        names = set(source.metadata.tables)
        shared |= seen & names
        seen |= names
    if shared:
        # 3.0's exception, word for word: test suites compare it whole.
        raise ValueError(f'Tables present in more than one Source: {", ".join(sorted(shared))}')
