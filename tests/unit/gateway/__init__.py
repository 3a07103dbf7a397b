"""Unit tests of gateway/."""
