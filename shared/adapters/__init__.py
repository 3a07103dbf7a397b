"""The adapters behind the ports: one package per technology (``sqlite``, ``mongo`` for the store;
``inprocess``, ``rabbitmq`` for delivery) plus what the two stores share. The two store packages
name their modules alike, one per port (``records``, ``claims``, ``sweeps``, ``keys``, ``ticks``,
and the ``connection`` they share): the same concepts, in two technologies."""
