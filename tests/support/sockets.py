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


def _holds_any(pid: int, inodes: set[str]) -> bool:
    """True if one of process ``pid``'s descriptors is one of these ``socket:[inode]``."""
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


def _socket_inodes(state: str | None, local_port: int, remote_port: int | None) -> set[str]:
    """The ``socket:[inode]`` names of TCP sockets (IPv4 or IPv6) with this local port, this
    remote port (any if None) and this state (any if None; 01 ESTABLISHED, 0A LISTEN)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            # local_address and rem_address are HEX_IP:HEX_PORT; field 9 is the inode.
            fields = line.split()
            if state is not None and fields[3] != state:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) != local_port:
                continue
            if remote_port is not None and int(fields[2].rsplit(":", 1)[1], 16) != remote_port:
                continue
            inodes.add(f"socket:[{fields[9]}]")
    return inodes


def listens_on(pid: int, port: int) -> bool:
    """True if process ``pid`` holds the socket listening on TCP ``port`` (IPv4 or IPv6).

    ``free_port`` only promises a port that was free a moment ago: another suite on the
    machine can take it first, and its server then answers the health check meant for ours.
    Linux only (``/proc``): the listening socket's inode must be one of ``pid``'s descriptors.
    """
    return _holds_any(pid, _socket_inodes("0A", port, None))


def holds_connection(pid: int, port: int, client_port: int) -> bool:
    """True if process ``pid`` holds the server end of the TCP connection from local
    ``client_port`` to its ``port``: it accepted that connection and has not closed it.
    Linux only (``/proc``)."""
    return _holds_any(pid, _socket_inodes(None, port, client_port))
