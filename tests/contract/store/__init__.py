"""The Store contract (shared.ports.store), against SQLite and MongoDB, split by concern."""
