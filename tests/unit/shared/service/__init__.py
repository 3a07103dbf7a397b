"""Unit tests of shared/service/."""
