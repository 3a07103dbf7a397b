"""The installed Conveyor's version: ``conveyor --version`` prints it, and each consumer's
heartbeat reports it (``consumer.presence``).

Here, below both, so that the consumer's composition root need not import the command line
(``conveyor.cli`` imports ``consumer.main`` to run the daemon).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def installed_version() -> str:
    """The installed distribution's version (package metadata), or ``unknown``."""
    try:
        return version("conveyor")
    except PackageNotFoundError:
        return "unknown"
