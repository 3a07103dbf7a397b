"""Unit tests: one module of the source at a time, with fakes; no server, no broker, no store
service."""
