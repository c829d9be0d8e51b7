"""Write small Python packages for tests to import, and forget them afterwards."""
from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mortar_rdb.testing import TestingBase


class Packages:
    """Writes modules under one directory on ``sys.path``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, path: str, source: str = '') -> None:
        """Write ``source`` (dedented) to ``path``, a ``/``-separated file name under the root."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))


@pytest.fixture
def packages(tmp_path: Path) -> Iterator[Packages]:
    """A directory on ``sys.path`` for sample packages, whose models get fresh declarative bases.

    The modules it imported are forgotten afterwards, so each test can reuse
    the same package names.
    """
    root = tmp_path / 'packages'
    root.mkdir()
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        with TestingBase():
            yield Packages(root)
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            del sys.modules[name]
