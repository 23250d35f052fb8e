"""A TCP proxy in front of the server whose open connections a test can cut."""

from __future__ import annotations

import socket
import threading
from typing import List


class CutProxy:
    """Forwards 127.0.0.1:<port> to ``target`` (``host:port``). ``cut()`` resets every open
    connection (new ones are still accepted)."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.cuts = 0
        self._open: List[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, name="cutproxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                _shut(s)

    def cut(self) -> int:
        """Resets every open connection; returns how many there were."""
        with self._lock:
            sockets, self._open = self._open, []
        for s in sockets:
            _shut(s, reset=True)
        if sockets:
            self.cuts += 1
        return len(sockets) // 2

    def close(self) -> None:
        self._stopped = True
        self._listener.close()
        self.cut()


def _shut(s: socket.socket, reset: bool = False) -> None:
    try:
        if reset:  # RST, as a dropped network does, not a polite FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass

