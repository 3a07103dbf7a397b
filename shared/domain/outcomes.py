"""What a handler may raise to steer its message's retries: :class:`Retry` and :class:`Reject`.

Handlers import them as ``from conveyor import Retry, Reject``. Any other exception is an
ordinary failure: retried while the queue's ``max_attempts`` allows, then ``ERROR``.
"""

from __future__ import annotations


class Retry(Exception):
    """Ask for another attempt of this message.

    Honours the queue's ``max_attempts``: on the last attempt the message ends ``ERROR``
    (type ``Retry``). ``delay`` (seconds, >= 0) replaces the computed backoff when given.
    """

    def __init__(self, message: str = "retry requested", *, delay: float | None = None) -> None:
        if delay is not None and not delay >= 0:
            raise ValueError("Retry delay must be a number of seconds >= 0")
        super().__init__(message)
        self.delay = delay


class Reject(Exception):
    """Fail this message at once, without retries: ``ERROR`` with type ``Rejected``."""

    def __init__(self, reason: str = "rejected by the handler") -> None:
        super().__init__(reason)
        self.reason = reason
