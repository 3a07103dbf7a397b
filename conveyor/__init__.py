"""Conveyor: named queues behind an authenticated HTTP API, with Python handlers.

Handlers steer retries with ``from conveyor import Retry, Reject`` (see ``shared.outcomes``).
"""

from shared.outcomes import Reject, Retry

__all__ = ["Reject", "Retry"]
