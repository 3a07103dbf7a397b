"""Kept for handlers written against earlier READMEs: use ``from conveyor import Context``."""

from conveyor.context import Context, HandlerMessaging

__all__ = ["Context", "HandlerMessaging"]
