"""Port contract suites: one suite per port, run against every adapter."""
