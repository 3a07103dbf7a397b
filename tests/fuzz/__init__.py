"""Property-based tests: the parsers (hypothesis) and the live API against its OpenAPI document
(schemathesis)."""
