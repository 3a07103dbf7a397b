"""Unit tests of shared/adapters/ (the parts that need no server)."""
