"""Helpers the tests share, by purpose (no tests here; tests/README.md says what each holds)."""
