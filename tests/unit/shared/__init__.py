"""Unit tests of shared/."""
