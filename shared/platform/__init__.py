"""Process plumbing every entry point uses: settings, logs, metrics, background tasks, signals,
listening sockets, start-up retry, the clock and the installed version."""
