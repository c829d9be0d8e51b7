"""A mypy plugin that lets 3.0's ``Base = declarative_base()`` be subclassed.

mypy will not take a variable as a base class, so ``class Thing(Base)``
fails under it whatever :func:`~mortar_rdb.declarative_base` is declared to
return. Enable this plugin in your mypy configuration::

    [tool.mypy]
    plugins = ["mortar_rdb.mypy"]

and each ``Base = declarative_base(...)`` becomes a class to mypy, whose
attributes and constructor arguments are not checked (as for a class with an
untyped base). New code can subclass :class:`sqlalchemy.orm.DeclarativeBase`
instead, which mypy checks fully without a plugin.
"""
from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import GDEF, Block, ClassDef, SymbolTable, SymbolTableNode, TypeInfo
from mypy.plugin import DynamicClassDefContext, Plugin

#: Where declarative_base is defined; mypy reports that name however it was imported.
DECLARATIVE_BASE = 'mortar_rdb.declarative.declarative_base'


def _declare_base(context: DynamicClassDefContext) -> None:
    """Declare the name assigned from declarative_base() as a class with an untyped base."""
    definition = ClassDef(context.name, Block([]))
    definition.fullname = context.api.qualified_name(context.name)
    info = TypeInfo(SymbolTable(), definition, context.api.cur_mod_id)
    definition.info = info
    obj = context.api.named_type('builtins.object')
    info.bases = [obj]
    info.mro = [info, obj.type]
    # Like a class whose base is Any: metadata, __table__, query and the
    # mapped constructor's keyword arguments are accepted unchecked.
    info.fallback_to_any = True
    context.api.add_symbol_table_node(context.name, SymbolTableNode(GDEF, info))


class MortarRDBPlugin(Plugin):
    def get_dynamic_class_hook(self, fullname: str) -> Callable[[DynamicClassDefContext], None] | None:
        return _declare_base if fullname == DECLARATIVE_BASE else None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point: the plugin class for any mypy version."""
    return MortarRDBPlugin
