"""Unit tests of shared/domain/."""
