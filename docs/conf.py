"""Sphinx configuration for the mortar_rdb documentation."""
project = 'mortar_rdb'
author = 'the mortar_rdb developers'
copyright = '2026, the mortar_rdb developers'
extensions = ['sphinx.ext.autodoc', 'sphinx.ext.viewcode']
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
exclude_patterns = ['_build']
html_theme = 'alabaster'
nitpicky = False
