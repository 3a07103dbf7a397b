"""Unit tests of gateway/auth/."""
