"""Behaviour through the HTTP API of a Conveyor running in the test's event loop, in both modes."""
