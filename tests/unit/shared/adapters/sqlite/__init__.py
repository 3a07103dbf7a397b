"""Unit tests of shared/adapters/sqlite/."""
