"""The distributed store: one MongoDB database through PyMongo's async API
(``collection.MongoStore``), one module per port (``records``, ``claims``, ``sweeps``,
``keys``, ``ticks``) over one shared ``connection.MongoConnection``."""
