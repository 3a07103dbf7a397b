"""The delivery contract (shared.ports.delivery), against in-process and RabbitMQ, split by
concern."""
