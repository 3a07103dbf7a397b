"""The chaos harness: ``python -m tests.process.chaos`` (docs/reliability.md, "The chaos harness").

A gateway and three ``conveyor consumer`` processes on a private RabbitMQ node the harness
starts on its own ports and node name, with the MongoDB wire server on its SQLite engine as
the store (``--store sqlite``: one SQLite file shared by every process instead). A steady
stream of pushes to a queue whose handler logs each run's start and end; meanwhile faults on
a schedule (``tests.process.chaos.faults``): ``kill -9`` of a random consumer every few
seconds, and in turn RabbitMQ ``stop_app``/``start_app``, the store stopped and started, the
gateway killed and started. At the end it prints the invariants
(``tests.process.chaos.verdict``) and exits non-zero if one is broken.

Modules: ``cluster`` (processes and their supervisor), ``load`` (pushes, final reads),
``faults`` (the schedules), ``verdict`` (the invariants), ``run`` (one run, in order),
``report`` (the printed summary), ``handler`` (the queue's handler, copied into the run).
"""
