"""The distributed store: one MongoDB database through PyMongo's async API
(``collection.MongoStore``) and its parts."""
