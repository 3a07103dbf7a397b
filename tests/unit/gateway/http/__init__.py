"""Unit tests of gateway/http/."""
