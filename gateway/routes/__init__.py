"""The gateway's resources, one module per resource: each holds its handlers."""
