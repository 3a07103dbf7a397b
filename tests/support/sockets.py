"""Local TCP ports: a free one, whether something listens on one, and whose listener it is."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listens_on(pid: int, port: int) -> bool:
    """True if process ``pid`` holds the socket listening on TCP ``port`` (IPv4 or IPv6).

    ``free_port`` only promises a port that was free a moment ago: another suite on the
    machine can take it first, and its server then answers the health check meant for ours.
    Linux only (``/proc``): the listening socket's inode must be one of ``pid``'s descriptors.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; field 9 is the inode.
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(fd_dir / name) in inodes:
                return True
        except OSError:
            continue
    return False
