"""RabbitMQ delivery (aio-pika) on quorum queues, its control exchange and management API client."""
