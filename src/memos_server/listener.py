"""The service's listening socket, claimed before anything else starts.

uvicorn binds its port only after the app's start-up: a busy port was found after the embedded
Postgres, the model and the "ready" line, and failed in a log line among others. ``serve`` binds
and listens first instead, and hands the socket to uvicorn; connections made while the service is
still starting wait in the backlog until it answers.
"""

from __future__ import annotations

import errno
import socket

BACKLOG = 2048  # uvicorn's default


class CannotListen(Exception):
    """The address or port cannot be listened on; the message says why in one line."""


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A port left in TIME_WAIT by the previous run is free to take again at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(
                f"port {port} on {host} is already in use (another memos-server?): stop that "
                "process or choose another port (--port, MEMOS_SERVER__PORT)"
            ) from None
        raise CannotListen(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    # serve --workers N hands it to its worker processes.
    sock.set_inheritable(True)
    return sock
