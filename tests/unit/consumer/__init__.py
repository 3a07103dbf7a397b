"""Unit tests of consumer/."""
