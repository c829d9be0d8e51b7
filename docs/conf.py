"""Sphinx configuration for the mortar_rdb documentation.

The build needs no network: links to other projects' docs come from the
small inventories in ``_inventories`` (see ``_inventories/make.py``).
Build it with ``python -m sphinx -n -W -b html docs docs/_build/html``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / '_inventories'))
from make import INVENTORIES  # noqa: E402

project = 'mortar_rdb'
author = 'the mortar_rdb 4 authors'
copyright = '2026, the mortar_rdb 4 authors'
extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.intersphinx',
    'sphinx.ext.viewcode',
    # Renders the zope interfaces and their methods, so links to them resolve.
    'sphinxcontrib.zopeext.autointerface',
]
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
exclude_patterns = ['_build', '_inventories']
html_theme = 'alabaster'
nitpicky = True
intersphinx_mapping = {
    project: (url, str(Path(__file__).parent / '_inventories' / f'{project}.inv'))
    for project, (url, _version, _entries) in INVENTORIES.items()
}
# errors.py's docstrings name the attribute ``orig``, which autodoc does
# not document.
nitpick_ignore = [
    ('py:attr', 'orig'),
    # mortar_rdb.mypy's plugin() returns mypy's Plugin class; mypy publishes
    # no inventory.
    ('py:class', 'mypy.plugin.Plugin'),
]

#: What short names in type hints, and in docstrings SQLAlchemy and Alembic
#: generate, stand for.
SHORT_NAMES = {
    'AnySession': 'mortar_rdb.sessions.AnySession',
    'Connection': 'sqlalchemy.engine.Connection',
    'Engine': 'sqlalchemy.engine.Engine',
    'Operations': 'alembic.operations.Operations',
    'Operations.ensure_sequences_table': 'mortar_rdb.sequence.alembic_ops.EnsureSequencesTable.ensure_sequences_table',
    'Table': 'sqlalchemy.schema.Table',
    'URL': 'sqlalchemy.engine.URL',
    # register_sequence returns what its impl makes: a Sequence.
    'mortar_rdb.sequence.S': 'mortar_rdb.sequence.types.Sequence',
}


def resolve_short_name(app, env, node, contnode):
    """Resolve a reference to one of SHORT_NAMES as one to what it stands for."""
    target = SHORT_NAMES.get(node.get('reftarget'))
    if node.get('refdomain') != 'py' or target is None:
        return None
    node['reftarget'] = target
    found = env.get_domain('py').resolve_xref(
        env, node['refdoc'], app.builder, node['reftype'], target, node, contnode
    )
    if found is None:
        from sphinx.ext import intersphinx

        found = intersphinx.missing_reference(app, env, node, contnode)
    return found


def hide_private_bases(app, name, obj, options, bases):
    """Leave private base classes (helpers, undocumented) out of "Bases:":
    those with a private name, and those of a private module that no public
    module hands on (SequenceError lives in one, but errors exports it)."""
    from mortar_rdb.sequence import errors

    def private(base):
        if getattr(base, '__name__', '').startswith('_'):
            return True
        in_private_module = any(part.startswith('_') for part in getattr(base, '__module__', '').split('.'))
        return in_private_module and base.__name__ not in errors.__all__

    bases[:] = [base for base in bases if not private(base)]


def hide_exception_signature(app, what, name, obj, options, signature, return_annotation):
    """Show exceptions without their constructor's parameters: mortar_rdb
    raises them, applications only catch them and read their message."""
    return ('', None) if what == 'exception' else None


def hide_exception_parameters(app, domain, objtype, contentnode):
    """Drop the parameters autodoc_typehints lists for an exception's constructor."""
    if domain != 'py' or objtype != 'exception':
        return
    from docutils import nodes

    for field_list in list(contentnode.findall(nodes.field_list)):
        for field in list(field_list):
            # Fields are still raw here: 'param name' and 'type name'.
            if field[0].astext().split()[0] in ('param', 'type'):
                field_list.remove(field)
        if not len(field_list):
            field_list.parent.remove(field_list)


def setup(app):
    app.connect('missing-reference', resolve_short_name)
    app.connect('autodoc-process-bases', hide_private_bases)
    app.connect('autodoc-process-signature', hide_exception_signature)
    # After autodoc has added the parameters (priority 500).
    app.connect('object-description-transform', hide_exception_parameters, priority=900)
