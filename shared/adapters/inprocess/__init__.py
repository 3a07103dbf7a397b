"""In-process delivery for the embedded mode."""
