"""A tile server in a thread of the notebook's kernel, for a workspace to map itself."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.errors import TwinError

if TYPE_CHECKING:
    from twin.workspace import Twin


class BackgroundServer:
    """The tile server for a workspace, running in a daemon thread of this process.

    Meant for notebooks: start it, point :func:`explore` (``server=url``) or a
    browser at :attr:`url`, stop it when done (or use it as a context manager).
    ``twin serve`` is the way to run a server for other people.

    Examples
    --------
    >>> with BackgroundServer(t) as url:  # doctest: +SKIP
    ...     m = t.explore(server=url)
    """

    def __init__(self, twin: Twin, host: str = "127.0.0.1", port: int = 0) -> None:
        self.catalog_path = Path(twin.catalog_path)
        self.host = host
        self.port = port or _free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> str:
        """Start serving; return the URL once the server accepts connections."""
        import uvicorn

        from tiles import create_app
        from tiles.settings import Settings

        if not self.catalog_path.is_file():
            raise TwinError(f"{self.catalog_path}: no catalog to serve (run build first)")
        settings = Settings(public_url=self.url, reload_interval=1.0)
        app = create_app(self.catalog_path, settings)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="twin-tiles", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise TwinError(f"{self.url}: the tile server did not start within {timeout:g} s")
            time.sleep(0.05)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish its requests and exit; wait up to ``timeout`` seconds."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.url} {state}>"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
