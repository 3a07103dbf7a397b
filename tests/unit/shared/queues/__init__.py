"""Unit tests of shared/queues/."""
