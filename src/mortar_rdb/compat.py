"""Python 2 and 3 names that code written for mortar_rdb 3.0 may import.

3.0 ran on both Pythons and kept the differences here; its users' tests
import them. We run on Python 3 only, so each name has its Python 3 meaning.
New code should not use this module.
"""
from __future__ import annotations

from io import StringIO

__all__ = ['PY2', 'StringIO', 'empty_str']

#: Always False: this is Python 3.
PY2 = False

#: How the empty text string is written by ``repr()``.
empty_str = repr('')
