"""Unit tests of conveyor/ (the CLI and the handler-facing API)."""
