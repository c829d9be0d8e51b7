"""Groups of tables that an application creates and drops together.

A package that owns tables exports a :class:`Source` for them; the
application lists the sources it uses in one :class:`Config`, and that config
can create and drop all of their tables.
"""
from __future__ import annotations

from sqlalchemy import Connection, Engine, MetaData, Table


class _Tables:
    metadata: MetaData

    def create(self, bind: Engine | Connection, checkfirst: bool = True) -> None:
        """Create the tables; by default only those that are missing."""
        self.metadata.create_all(bind, checkfirst=checkfirst)

    def drop(self, bind: Engine | Connection, checkfirst: bool = True) -> None:
        """Drop the tables; by default only those that exist."""
        self.metadata.drop_all(bind, checkfirst=checkfirst)


class Source(_Tables):
    """The tables one package needs, gathered in their own :attr:`metadata`."""

    def __init__(self, *tables: Table) -> None:
        self.metadata = MetaData()
        self.tables = tuple(table.to_metadata(self.metadata) for table in tables)


class Config(_Tables):
    """The sources one application uses, with all their tables in :attr:`metadata`."""

    def __init__(self, *sources: Source) -> None:
        self.sources = sources
        self.metadata = MetaData()
        for source in sources:
            for table in source.tables:
                if table.key not in self.metadata.tables:
                    table.to_metadata(self.metadata)
