"""An Alembic operation for the ``sequences`` table: ``op.ensure_sequences_table()``.

Importing this module (it needs the ``alembic`` extra) registers the
operation. In a revision it creates the table when it is missing and
upgrades a mortar_rdb 3.0 table, like
:func:`mortar_rdb.sequence.schema.create_or_upgrade_table`, which needs no
import of Alembic and can be called as ``create_or_upgrade_table(op.get_bind())``.
Both need a database connection: in ``--sql`` (offline) mode they raise
:class:`~mortar_rdb.sequence.errors.OfflineMigrationUnsupported`, which says
what to do instead.
"""
from __future__ import annotations

from typing import Any

from alembic.operations import MigrateOperation, Operations

from .schema import create_or_upgrade_table

__all__ = ['EnsureSequencesTable']


@Operations.register_operation('ensure_sequences_table')
class EnsureSequencesTable(MigrateOperation):
    """Create the sequences table, or bring an existing one to the current shape."""

    @classmethod
    def ensure_sequences_table(cls, operations: Operations) -> Any:
        """Create the sequences table if missing, else upgrade it; returns what was done."""
        return operations.invoke(cls())


@Operations.implementation_for(EnsureSequencesTable)
def _ensure_sequences_table(operations: Operations, operation: EnsureSequencesTable) -> str:
    return create_or_upgrade_table(operations.get_bind())
