"""HTTP plumbing under the routes: request parsing, error and problem bodies, limits on clients and
callers, and the observability middleware."""
