"""One shared declarative base per set of arguments, so that every package
of an application maps its models into one MetaData and one registry.

:class:`TestingBase` lets tests swap in fresh bases and put the shared ones
back afterwards.
"""
from __future__ import annotations

import inspect
from types import TracebackType
from typing import Any

from sqlalchemy.orm import declarative_base as _sqlalchemy_declarative_base

__all__ = ['TestingBase', 'declarative_base']

#: Arguments that SQLAlchemy 2 removed, with what to do instead.
_REMOVED = {
    'bind': (
        'SQLAlchemy 2 no longer binds a MetaData to an engine. Drop bind= and pass the engine where '
        'it is used instead: mortar_rdb.register_session(engine=...), Config.create(engine) or '
        'metadata.create_all(engine).'
    ),
}

_ACCEPTED = frozenset(inspect.signature(_sqlalchemy_declarative_base).parameters)

# Each entry is (the arguments, the base made from them). A list, not a dict:
# arguments such as class_registry are not hashable.
_bases: list[tuple[dict[str, Any], Any]] = []


def _same(a: object, b: object) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # objects whose == builds an expression, or refuses
        return False


def _same_arguments(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)


def _check(kw: dict[str, Any]) -> None:
    for name in kw:
        if name in _REMOVED:
            raise TypeError(f'declarative_base({name}=...) is not supported: {_REMOVED[name]}')
    unknown = sorted(set(kw) - _ACCEPTED)
    if unknown:
        raise TypeError(
            f'declarative_base() does not take {", ".join(map(repr, unknown))}: SQLAlchemy 2 accepts '
            f'only {", ".join(sorted(_ACCEPTED))}.'
        )


def declarative_base(**kw: Any) -> Any:
    """Return the declarative base for these arguments, making it on first use.

    Calls with equal arguments get the same base, whichever package calls
    first, so models defined in several packages share one MetaData and one
    class registry and can refer to each other. The arguments are those of
    :func:`sqlalchemy.orm.declarative_base`; ``bind``, which SQLAlchemy 2
    removed, raises a :class:`TypeError` saying what to do instead.
    """
    _check(kw)
    for arguments, base in _bases:
        if _same_arguments(arguments, kw):
            return base
    base = _sqlalchemy_declarative_base(**kw)
    _bases.append((dict(kw), base))
    return base


class TestingBase:
    """Make :func:`~mortar_rdb.declarative_base` hand out fresh bases until restored.

    Models a test defines then go into a new MetaData and registry, not the
    application's. Use it as an object, calling :meth:`restore` when done
    (for instance in ``setUp`` and ``tearDown``), or as a context manager,
    which gives the new default base and restores on leaving::

        with TestingBase() as Base:
            class Thing(Base):
                ...
    """

    #: Not a test class, for pytest collecting a test module that imports it.
    __test__ = False

    def __init__(self) -> None:
        global _bases
        self._saved = _bases
        self._restored = False
        _bases = []

    def restore(self) -> None:
        """Put back the bases that were shared before this object was made."""
        global _bases
        if not self._restored:
            _bases = self._saved
            self._restored = True

    def __enter__(self) -> Any:
        return declarative_base()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.restore()
