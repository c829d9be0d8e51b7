"""Where sessions and sequences are registered by name.

As in mortar_rdb 3.0, registrations go in zope.component's current site
manager, :func:`zope.component.getSiteManager`. Whatever an application's
tests already use to isolate zope.component registrations therefore
isolates ours too: testfixtures' ``TestComponents``, zope.component's
testing clean-up, or a Pyramid registry hooked in with ``hook_zca``.
:func:`isolated` does the same for suites that use none of those.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from zope.component import getSiteManager
from zope.interface.registry import Components


def components() -> Components:
    """The registry in use now: zope.component's current site manager."""
    return getSiteManager()


@contextmanager
def isolated(inherit: bool = False) -> Iterator[Components]:
    """Make a fresh registry the current site manager until the block ends.

    The registry that was current before is put back afterwards, so
    anything registered inside the block is forgotten. With
    ``inherit=True`` the fresh registry still sees what was registered
    before the block.
    """
    fresh = Components('mortar_rdb.isolated', bases=(components(),) if inherit else ())
    previous = getSiteManager.sethook(lambda context=None: fresh)
    try:
        yield fresh
    finally:
        getSiteManager.sethook(previous)
