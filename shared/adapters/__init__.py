"""The adapters behind the ports: one package per technology (``sqlite``, ``mongo`` for the store;
``inprocess``, ``rabbitmq`` for delivery) plus what the two stores share."""
