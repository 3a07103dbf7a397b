"""Unit tests of shared/adapters/rabbitmq/ (no broker)."""
