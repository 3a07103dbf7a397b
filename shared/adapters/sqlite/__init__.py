"""The embedded store: one SQLite file in WAL mode (``database.SqliteStore``) and its parts."""
