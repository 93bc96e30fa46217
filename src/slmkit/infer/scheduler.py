"""Continuous batching: one worker thread shares the model between many requests.

Requests wait in a bounded queue; between two decode steps the worker admits waiting requests into free engine rows
(prefill + first token), drops cancelled or timed-out ones, then runs one batched decode step for everyone. Each
request gets its events through its own callback, called on the worker thread (keep it short: hand the event to
another thread or an event loop).

Example:
    scheduler = Scheduler(Engine(model, max_batch=16)); scheduler.start()
    ticket = scheduler.submit(TokenRequest(prompt, 50), on_event=events.put)   # events: a queue.Queue
    ...; scheduler.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from slmkit.infer.engine import Engine, Sequence, TokenEvent, TokenRequest

log = logging.getLogger(__name__)


class QueueFullError(RuntimeError):
    """The scheduler's waiting queue is full: try again later (HTTP 503)."""


class Ticket:
    """A submitted request: cancel it from any thread; `finish_reason` is set once it ended."""

    def __init__(self, request: TokenRequest, on_event: Callable[[TokenEvent], None], deadline: float | None):
        self.request, self.on_event, self.deadline = request, on_event, deadline
        self.cancelled = threading.Event()
        self.finish_reason: str | None = None
        self.sequence: Sequence | None = None

    def cancel(self) -> None:
        """Stop generating for this request (takes effect before the next decode step)."""
        self.cancelled.set()


class Scheduler:
    """Runs `engine` on a worker thread over a bounded queue of requests (see module docstring)."""

    def __init__(self, engine: Engine, max_queue: int = 64, timeout_s: float | None = None):
        self.engine = engine
        self.max_queue = max_queue
        self.timeout_s = timeout_s  # default per-request time limit (None = none)
        self._waiting: deque[Ticket] = deque()
        self._running: dict[int, Ticket] = {}  # sequence id -> ticket
        self._wake = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.steps = 0  # decode steps run (for stats and tests)
        self.max_concurrent = 0  # the most sequences ever decoded in one step
        self.cancelled = 0  # sequences stopped by cancel() before they finished
        self.timed_out = 0  # sequences stopped by their deadline

    # ------------------------------------------------------------------------------------------ client side
    def submit(
        self, request: TokenRequest, on_event: Callable[[TokenEvent], None], timeout_s: float | None = None
    ) -> Ticket:
        """Queue a request; raise QueueFullError when `max_queue` requests already wait."""
        return self.submit_many([(request, on_event)], timeout_s)[0]

    def submit_many(
        self, requests: list[tuple[TokenRequest, Callable[[TokenEvent], None]]], timeout_s: float | None = None
    ) -> list[Ticket]:
        """Queue several requests all together or none (QueueFullError): e.g. the n choices of one HTTP request."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s if timeout_s else None
        tickets = [Ticket(request, on_event, deadline) for request, on_event in requests]
        with self._wake:
            if len(self._waiting) + len(tickets) > self.max_queue:
                raise QueueFullError(
                    f"{len(self._waiting)} sequences wait and this request adds {len(tickets)} "
                    f"(max_queue={self.max_queue})"
                )
            self._waiting.extend(tickets)
            self._wake.notify()
        return tickets

    def stats(self) -> dict[str, int]:
        """Counts for /health. Example: `scheduler.stats()["running"]`"""
        return {"running": len(self._running), "waiting": len(self._waiting), "max_batch": self.engine.max_batch,
                "steps": self.steps, "max_concurrent": self.max_concurrent, "cancelled": self.cancelled,
                "timed_out": self.timed_out}

    def start(self) -> Scheduler:
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="slmkit-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for ticket in [*self._waiting, *self._running.values()]:
            self._finish(ticket, TokenEvent(None, "cancelled"))
        self._waiting.clear()
        self._running.clear()

    # ------------------------------------------------------------------------------------------ worker side
    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stop and not self._waiting and not self.engine.active:
                    self._wake.wait()
                if self._stop:
                    return
            try:
                self._admit()
                self._drop_cancelled()
                events = self.engine.step()
                if events:
                    self.steps += 1
                    self.max_concurrent = max(self.max_concurrent, len(events))
                for seq, event in events:
                    self._deliver(self._running[seq.id], event)
            except Exception as exc:  # a bug must not kill the worker: fail the requests in flight, keep serving
                log.exception("generation failed")
                for seq in list(self.engine.active):
                    self.engine.release(seq)
                for ticket in list(self._running.values()):
                    self._finish(ticket, TokenEvent(None, f"error: {type(exc).__name__}: {exc}"))
                self._running.clear()

    def _admit(self) -> None:
        while self.engine.has_room:
            with self._wake:
                if not self._waiting:
                    return
                ticket = self._waiting.popleft()
            if self._expired(ticket):
                continue
            seq, event = self.engine.add(ticket.request)
            ticket.sequence = seq
            self._running[seq.id] = ticket
            self._deliver(ticket, event)

    def _drop_cancelled(self) -> None:
        for seq in list(self.engine.active):
            ticket = self._running.get(seq.id)
            if ticket is not None and not seq.finished and self._expired(ticket):
                self.engine.release(seq)
                self._running.pop(seq.id, None)

    def _expired(self, ticket: Ticket) -> bool:
        """True (and the ticket is told why) when it was cancelled or ran past its deadline."""
        if ticket.cancelled.is_set():
            self.cancelled += ticket.finish_reason is None
            self._finish(ticket, TokenEvent(None, "cancelled"))
            return True
        if ticket.deadline is not None and time.monotonic() > ticket.deadline:
            self.timed_out += 1
            self._finish(ticket, TokenEvent(None, "timeout"))
            return True
        return False

    def _deliver(self, ticket: Ticket, event: TokenEvent) -> None:
        if event.finish_reason is not None:
            self._running.pop(ticket.sequence.id, None)
            ticket.finish_reason = event.finish_reason
        ticket.on_event(event)

    def _finish(self, ticket: Ticket, event: TokenEvent) -> None:
        if ticket.finish_reason is None:
            ticket.finish_reason = event.finish_reason
            ticket.on_event(event)
