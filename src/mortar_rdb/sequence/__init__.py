"""Named sequences: register them once, then take values anywhere."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..interfaces import IManagedSequence, ISequence
from ..registry import components
from ..sessions import AnySession
from ._table import metadata
from .errors import not_registered
from .generic import SequenceImplementation
from .numbering import sequence_value
from .types import ManagedSequence, Sequence

__all__ = ['drop_sequence', 'get_sequence', 'metadata', 'register_sequence', 'sequence_value']

S = TypeVar('S', bound=Sequence)


@overload
def register_sequence(
    name: str, session: AnySession, impl: Callable[..., S], start: int | None = None, **options: Any
) -> S: ...


@overload
def register_sequence(
    name: str, session: AnySession, *, start: int | None = None, **options: Any
) -> ManagedSequence: ...


def register_sequence(
    name: str,
    session: AnySession,
    impl: Any = SequenceImplementation,
    start: int | None = None,
    **options: Any,
) -> Any:
    """Create (if needed) and register the sequence ``name``.

    ``impl`` is the implementation class; it is called as
    ``impl(name, session, **options)``. ``start`` is the first value of a
    sequence created now (1 if not given); a sequence that exists already
    keeps its value. The default,
    :class:`mortar_rdb.sequence.generic.SequenceImplementation`, may insert a
    row through ``session``, so commit its transaction afterwards.
    Registering a name again replaces the earlier registration.
    """
    if start is not None:
        options['start'] = start
    sequence = impl(name, session, **options)
    components().registerUtility(sequence, provided=ISequence, name=name)
    return sequence


def get_sequence(name: str) -> ManagedSequence:
    """The sequence registered as ``name``; raises zope's ``ComponentLookupError`` if there is none.

    Typed as a :class:`~mortar_rdb.sequence.types.ManagedSequence`, which
    every shipped implementation is; a sequence of your own registered
    under :class:`~mortar_rdb.interfaces.ISequence` may only have ``next()``.
    """
    sequence = components().queryUtility(ISequence, name)
    if sequence is None:
        raise not_registered(name)
    return sequence


def drop_sequence(name: str, session: AnySession, impl: Any = SequenceImplementation) -> bool:
    """Remove the sequence ``name``: its storage and its registration.

    Returns whether it had storage in ``session``'s database. A registered
    sequence removes its own storage; for a name that is not registered,
    ``impl.drop_storage(name, session)`` does. The registration goes at
    once; a generic sequence's row goes when the transaction commits, a
    pooled sequence's row and a native sequence at once. Once dropped, a sequence that is registered
    again starts from its ``start``.
    """
    sequence = components().queryUtility(ISequence, name)
    if sequence is None:
        existed = bool(impl.drop_storage(name, session))
    elif IManagedSequence.providedBy(sequence):
        existed = bool(sequence.drop(session))
    else:
        raise TypeError(
            f'Sequence {name!r} is a {type(sequence).__name__}, which cannot drop its own storage: '
            'remove that yourself, then unregister it with mortar_rdb.registry.components()'
            f'.unregisterUtility(provided=ISequence, name={name!r}).'
        )
    components().unregisterUtility(provided=ISequence, name=name)
    return existed

