"""Unit tests of shared/platform/settings/."""
