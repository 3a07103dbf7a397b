"""Unit tests of the seed's handlers/ (the way a handler author tests one)."""
