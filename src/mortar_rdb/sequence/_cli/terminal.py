"""The command line and its terminal: output written whole, what it waits for, a quiet Ctrl-C.

Kept apart from the commands (:mod:`.commands`) and from what they say when
they fail (:mod:`.messages`).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    'Notice',
    'WriteFailed',
    'fill_closed_descriptors',
    'say',
    'sigint_ignored',
    'silence_stdout',
    'stdout_open',
    'write',
]

#: How long a wait lasts before the command says, on a terminal, what it waits for.
NOTICE_AFTER = 1.0


class WriteFailed(Exception):
    """Writing the output failed; ``error`` is the OSError."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def write(text: str) -> None:
    """Write ``text`` to stdout, all of it, so that a closed pipe or a full disk fails here.

    Straight to the file descriptor: Python's buffered writer keeps quiet
    about the part of a large write that a pipe closed in the middle of
    never took.
    """
    stream = sys.stdout
    try:
        stream.flush()
        try:
            descriptor = stream.fileno()
        except (AttributeError, OSError, ValueError):
            stream.write(text)  # not a file (captured, say): it cannot fail halfway
            stream.flush()
            return
        rest = memoryview(text.encode(stream.encoding or 'utf-8', stream.errors or 'strict'))
        while rest:
            rest = rest[os.write(descriptor, rest) :]
    except OSError as error:
        raise WriteFailed(error) from error


class Notice:
    """On a terminal, says on stderr what the command waits for once a wait lasts over a moment."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.enabled = is_terminal(sys.stderr)
        self.what: str | None = None
        self.since = time.monotonic()
        self.said: set[str] = set()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def waiting_for(self, what: str | None) -> None:
        self.what, self.since = what, time.monotonic()
        if self.enabled and self.thread is None and what is not None:
            self.thread = threading.Thread(target=self._watch, daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.what = None
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()

    def _watch(self) -> None:
        while not self.stopped.wait(0.1):
            what = self.what
            if what is not None and what not in self.said and time.monotonic() - self.since >= NOTICE_AFTER:
                self.said.add(what)
                print(f'waiting for {what} (giving up after {self.seconds:g} seconds; Ctrl-C stops)', file=sys.stderr)


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """A second Ctrl-C while cleaning up after the first must not print a traceback."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def say(message: str) -> None:
    """Say ``message`` on stderr; with stderr closed, nowhere (never among the values on stdout)."""
    stream = sys.stderr
    if stream is None:  # print() would fall back to stdout
        return
    try:
        print(f'error: {message}', file=stream)
    except (OSError, ValueError):
        pass


def stdout_open() -> bool:
    """Whether the command was started with a standard output to write to (not ``>&-``)."""
    return sys.stdout is not None


def fill_closed_descriptors() -> None:
    """Put /dev/null on descriptors 0, 1 and 2 where the command was started without them.

    Otherwise the next file opened (a SQLite database) would get that number,
    and whatever is written to "stderr" would land in it.
    """
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)


def silence_stdout() -> None:
    """After a closed pipe, let the interpreter's last flush go nowhere instead of printing a second error."""
    try:
        descriptor = os.open(os.devnull, os.O_WRONLY)
        os.dup2(descriptor, sys.stdout.fileno())
        os.close(descriptor)
    except (AttributeError, OSError, ValueError):
        pass
