"""Stopping a turn from any thread, and a fair queue in front of a model server with a fixed number of slots."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["FairQueue", "StopToken", "Stopped", "Ticket"]


class Stopped(Exception):
    """The consumer stopped the turn; raised where the work notices it."""


class StopToken:
    """Set once, from any thread; work checks it between steps and registers closers that abort blocking I/O."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._closers: dict[int, Callable[[], None]] = {}
        self._next = 0

    @property
    def stopped(self) -> bool:
        """Whether stop() was called."""
        return self._event.is_set()

    def stop(self) -> None:
        """Stop: every registered closer runs once (aborting a request in flight)."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            closers = list(self._closers.values())
            self._closers.clear()
        for close in closers:
            with contextlib.suppress(Exception):  # a failed abort leaves the request to end at its next chunk
                close()

    def wait(self, timeout: float) -> bool:
        """Sleep up to timeout seconds; True (at once) if stopped meanwhile."""
        return self._event.wait(timeout)

    def check(self) -> None:
        """Raise Stopped if the turn was stopped."""
        if self._event.is_set():
            raise Stopped

    def on_stop(self, close: Callable[[], None]) -> Callable[[], None]:
        """Run close when stopped (at once if already stopped); returns a function that unregisters it."""
        with self._lock:
            if not self._event.is_set():
                key = self._next
                self._next += 1
                self._closers[key] = close
                return lambda: self._closers.pop(key, None) and None
        close()
        return lambda: None


class Ticket:
    """A place in a FairQueue: wait until admitted, then leave when done (also when never admitted)."""

    def __init__(self, queue: FairQueue) -> None:
        self._queue = queue
        self.admitted = False
        self.left = False

    def wait(self, timeout: float) -> int | None:
        """None once admitted; otherwise the 1-based place among those waiting, after up to timeout seconds."""
        return self._queue._wait(self, timeout)

    def leave(self) -> None:
        """Give the slot back, or leave the line."""
        self._queue._leave(self)


class FairQueue:
    """At most `slots` holders at once; the others are admitted first come, first served."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("a queue needs at least one slot")
        self.slots = slots
        self._cond = threading.Condition()
        self._active = 0
        self._line: deque[Ticket] = deque()

    @property
    def active(self) -> int:
        """Holders now."""
        return self._active

    @property
    def waiting(self) -> int:
        """Tickets in line."""
        return len(self._line)

    def join(self) -> Ticket:
        """A ticket at the end of the line (admitted at once when a slot is free and nobody is waiting)."""
        ticket = Ticket(self)
        with self._cond:
            self._line.append(ticket)
            self._admit()
        return ticket

    def wake(self) -> None:
        """Wake every waiter, e.g. so that a stopped turn notices at once."""
        with self._cond:
            self._cond.notify_all()

    def _admit(self) -> None:
        while self._active < self.slots and self._line:
            ticket = self._line.popleft()
            ticket.admitted = True
            self._active += 1
        self._cond.notify_all()

    def _wait(self, ticket: Ticket, timeout: float) -> int | None:
        with self._cond:
            if not ticket.admitted and not ticket.left:
                self._cond.wait(timeout)
            if ticket.admitted:
                return None
            return self._line.index(ticket) + 1 if ticket in self._line else None

    def _leave(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.left:
                return
            ticket.left = True
            if ticket.admitted:
                self._active -= 1
            elif ticket in self._line:
                self._line.remove(ticket)
            self._admit()
