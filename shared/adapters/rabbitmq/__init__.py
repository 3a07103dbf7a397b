"""RabbitMQ delivery (aio-pika): ``broker.RabbitDelivery`` (the lifecycle), one module per
port (``work``, ``events``, ``control``) over one shared ``channels.RabbitChannels``; and the
management API client (``management``)."""
