"""The embedded store: one SQLite file in WAL mode (``database.SqliteStore``), one module per
port (``records``, ``claims``, ``sweeps``, ``keys``, ``ticks``) over one shared
``connection.SqliteConnection``."""
