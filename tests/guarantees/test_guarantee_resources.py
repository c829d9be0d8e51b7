"""Nothing of ours keeps an engine alive once the application lets it go.

Applications and test suites that make engines as they go (one per tenant,
one per test) would otherwise keep every one, its pool and its dialect's
caches, for the life of the process.
"""
from __future__ import annotations

import gc
import weakref

from sqlalchemy import create_engine
from sqlalchemy.orm import Session


def test_an_engine_the_application_lets_go_of_is_freed(setup):
    engine = create_engine(setup.url)
    with Session(engine) as session:
        sequence = setup.implementation.create('seq', session)
        sequence.next(session)
        session.commit()
    engine.dispose()
    freed = weakref.ref(engine)
    del engine, session, sequence
    # SQLAlchemy 2.0 releases a detached connection's record from a weakref
    # callback that runs during the first collection, so the engine's own
    # reference cycle is only unreachable, and collected, on the second.
    gc.collect()
    gc.collect()
    assert freed() is None, [type(referrer).__name__ for referrer in gc.get_referrers(freed())]
