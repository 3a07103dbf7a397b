"""Real processes: conveyor serve, gateway and consumer daemons, the CLI, signals, chaos."""
