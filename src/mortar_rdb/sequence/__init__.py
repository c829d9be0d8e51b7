"""Named sequences: register them once, then take values anywhere."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, scoped_session

from ..interfaces import ISequence
from ..registry import components
from .errors import SequenceNotRegistered
from .generic import SequenceImplementation

__all__ = ['get_sequence', 'register_sequence']


def register_sequence(
    name: str,
    session: Session | scoped_session[Session],
    impl: Any = SequenceImplementation,
    **options: Any,
) -> ISequence:
    """Create (if needed) and register the sequence ``name``.

    ``impl`` is the implementation class; it is called as
    ``impl(name, session, **options)``. The default,
    :class:`mortar_rdb.sequence.generic.SequenceImplementation`, may insert a
    row through ``session``, so commit its transaction afterwards.
    Registering a name again replaces the earlier registration.
    """
    sequence = impl(name, session, **options)
    components().registerUtility(sequence, provided=ISequence, name=name)
    return sequence  # type: ignore[no-any-return]


def get_sequence(name: str) -> ISequence:
    """The sequence registered as ``name``; raises SequenceNotRegistered."""
    sequence = components().queryUtility(ISequence, name)
    if sequence is None:
        raise SequenceNotRegistered(name)
    return sequence  # type: ignore[no-any-return]
