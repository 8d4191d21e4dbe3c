"""``LocalServer``: llama.cpp's OpenAI-compatible server in a child process, always stopped.

The server (xllamacpp) runs in a child Python process (``_serve.py``) on 127.0.0.1 and
a free port. A child process, not an in-process server, because it can always be stopped
whole: :meth:`LocalServer.stop` terminates it (``SIGTERM``, then ``SIGKILL`` after a
grace period), an ``atexit`` hook stops any server still running when the interpreter
exits (also after Ctrl-C), and the child exits by itself when its stdin pipe closes, which
happens when the parent dies for any reason, ``SIGKILL`` included.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from adk.batteries.local._errors import E_LOCAL_SERVER_FAILED, E_LOCAL_SERVER_TIMEOUT
from adk.batteries.local._model import (
    LOCAL_PIP,
    MODELS,
    QWEN,
    LocalModel,
    ProgressFn,
    prepare_model,
)
from adk.errors import E_EXTRA_MISSING

__all__ = ["LocalServer", "free_port", "is_healthy"]

_HERE = Path(__file__).parent
_SERVE = _HERE / "_serve.py"
_RUNNING: set[LocalServer] = set()
_RUNNING_LOCK = threading.Lock()


def _stop_all() -> None:  # atexit: never leave a server running
    with _RUNNING_LOCK:
        servers = list(_RUNNING)
    for server in servers:
        server.stop()


atexit.register(_stop_all)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def is_healthy(host: str, port: int, *, timeout: float = 2.0) -> bool:
    """Whether ``GET /health`` on ``host:port`` answers 200 (the model is loaded).

    Args:
        host: The server's host.
        port: The server's port.
        timeout: Connect and read timeout in seconds.

    Returns:
        ``True`` on HTTP 200; ``False`` on any other status or a connection failure.
    """
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class LocalServer:
    """Serve a local model with llama.cpp's OpenAI-compatible HTTP server (extra ``local``).

    Use it as a context manager (sync or async); the server is stopped on exit, on
    errors, on Ctrl-C and at interpreter exit::

        with LocalServer("local-qwen") as server:
            executor = OpenAIChatExecutor(model=server.model_name, base_url=server.base_url)

    Starting prepares the model file (:func:`prepare_model`: joined into the cache and
    SHA-256 verified the first time), starts the child process and waits until
    ``GET /health`` answers 200.

    Args:
        model: A :class:`LocalModel` or its name (``"local-qwen"``, ``"local-smollm"``).
        cache_dir: Where joined model files are cached; ``None`` uses
            :func:`default_cache_dir` (``$ADK_CACHE_DIR`` overrides it).
        host: The interface to listen on (loopback by default; keep it so).
        port: The port; ``None`` picks a free one.
        n_ctx: Context size in tokens; ``None`` uses the model's (4096).
        threads: CPU threads for generation; ``None`` lets llama.cpp decide.
        startup_timeout: Longest wait, in seconds, for the server to become healthy.
        on_progress: Progress callback (see :data:`ProgressFn`): ``"verify"``/``"join"``
            while the model file is prepared, ``"load"`` (seconds waited, timeout) while
            the server loads it.
        log_path: A file receiving the server's log; ``None`` keeps it in a temp file
            (its tail is put in startup errors) deleted on stop.

    Attributes:
        model: The :class:`LocalModel` served.
        host: The host.
        port: The port (set by :meth:`start` when ``None`` was given).

    Raises:
        E_EXTRA_MISSING: (from :meth:`start`) ``xllamacpp`` or a model package is not
            installed; ``help`` is the pip line.
        KeyError: ``model`` is a name that is not in :data:`MODELS`.
    """

    def __init__(
        self,
        model: LocalModel | str = QWEN,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int | None = None,
        threads: int | None = None,
        startup_timeout: float = 120.0,
        on_progress: ProgressFn | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model: LocalModel = MODELS[model] if isinstance(model, str) else model
        self.host = host
        self.port: int | None = port
        self._cache_dir = cache_dir
        self._n_ctx = n_ctx or self.model.n_ctx
        self._threads = threads
        self._timeout = startup_timeout
        self._on_progress = on_progress
        self._log_path = Path(log_path) if log_path is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._stop_requested = False

    # -- properties --------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://HOST:PORT/v1`` (valid once started)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def model_name(self) -> str:
        """The ``model`` name the server answers to (e.g. ``"qwen2.5-coder-0.5b-instruct"``)."""
        return self.model.served_name

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs, else ``None``."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.pid is not None

    def healthy(self) -> bool:
        """Whether the server process is alive and ``GET /health`` answers 200."""
        return self.running and self.port is not None and is_healthy(self.host, self.port)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalServer:
        """Prepare the model, start the server and wait until it is healthy (blocking).

        Returns:
            ``self``.

        Raises:
            E_EXTRA_MISSING: ``xllamacpp`` or a model package is missing.
            E_LOCAL_MODEL_CORRUPT: the model file fails its size or SHA-256 check.
            E_LOCAL_SERVER_FAILED: the process exited while starting (the log tail is in
                the message) or could not be spawned.
            E_LOCAL_SERVER_TIMEOUT: not healthy within ``startup_timeout`` (it is killed).
        """
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return self
            self._stop_requested = False
            if importlib.util.find_spec("xllamacpp") is None:
                raise E_EXTRA_MISSING(
                    "local",
                    message="the optional extra 'local' is not installed (xllamacpp is "
                    f"missing); install it with: {LOCAL_PIP}",
                    help=LOCAL_PIP,
                )
            path = prepare_model(
                self.model, cache_dir=self._cache_dir, on_progress=self._on_progress
            )
            if self.port is None:
                self.port = free_port(self.host)
            template = str(_HERE / self.model.chat_template) if self.model.chat_template else None
            options = {
                "model": str(path),
                "host": self.host,
                "port": self.port,
                "n_ctx": self._n_ctx,
                "alias": self.model.served_name,
                "template": template,
                "threads": self._threads,
            }
            if self._log_path is not None:
                self._log = self._log_path.open("ab")
            else:
                self._log = tempfile.TemporaryFile(prefix="adk-llama-server-")  # noqa: SIM115  # closed by stop()
            env = dict(os.environ)
            env.setdefault("LLAMA_LOG_VERBOSITY", "1")
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, str(_SERVE), json.dumps(options)],
                    stdin=subprocess.PIPE,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # Ctrl-C reaches us; we stop the child
                )
            except OSError as exc:
                self._close_log()
                raise E_LOCAL_SERVER_FAILED(
                    message=f"could not start the model server: {exc}", cause=exc
                ) from exc
            with _RUNNING_LOCK:
                _RUNNING.add(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        proc = self._proc
        assert proc is not None and self.port is not None
        started = time.monotonic()
        deadline = started + self._timeout
        last_tick = -1
        while True:
            if self._stop_requested:
                raise E_LOCAL_SERVER_FAILED(message="the model server was stopped while starting")
            code = proc.poll()
            if code is not None:
                raise E_LOCAL_SERVER_FAILED(
                    message=f"the model server exited with code {code} while starting"
                    + self._log_tail(),
                )
            if is_healthy(self.host, self.port, timeout=1.0):
                return
            now = time.monotonic()
            if now >= deadline:
                raise E_LOCAL_SERVER_TIMEOUT(
                    message=f"the model server was not ready after {self._timeout:g} s "
                    "(raise startup_timeout on a slow machine)" + self._log_tail()
                )
            tick = int(now - started)
            if self._on_progress is not None and tick != last_tick:
                last_tick = tick
                self._on_progress("load", tick, int(self._timeout))
            time.sleep(0.1)

    def _log_tail(self, limit: int = 600) -> str:
        log = self._log
        if log is None:
            return ""
        try:
            log.flush()
            if self._log_path is not None:
                data = self._log_path.read_bytes()
            else:
                log.seek(0)
                data = log.read()
        except (OSError, ValueError):
            return ""
        lines = [ln for ln in data.decode(errors="replace").splitlines() if ln.strip()]
        tail = " | ".join(lines[-4:])[-limit:]
        return f"; server log: {tail}" if tail else ""

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            with contextlib.suppress(OSError):
                log.close()

    def stop(self, *, grace: float = 5.0) -> None:
        """Stop the server process and wait for it to exit. Idempotent, never raises.

        Closes the child's stdin (it exits at once on end of file), sends ``SIGTERM``,
        and after ``grace`` seconds ``SIGKILL``.

        Args:
            grace: Seconds to wait for a clean exit before killing.
        """
        self._stop_requested = True
        with self._lock:
            proc, self._proc = self._proc, None
            with _RUNNING_LOCK:
                _RUNNING.discard(self)
            if proc is not None:
                if proc.poll() is None:
                    with contextlib.suppress(OSError):
                        if proc.stdin is not None:
                            proc.stdin.close()
                    with contextlib.suppress(OSError):
                        proc.terminate()
                    try:
                        proc.wait(timeout=grace)
                    except subprocess.TimeoutExpired:
                        with contextlib.suppress(OSError):
                            proc.kill()
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            proc.wait(timeout=grace)
                elif proc.stdin is not None:
                    with contextlib.suppress(OSError):
                        proc.stdin.close()
            self._close_log()

    def wait(self) -> int:
        """Block until the server process exits (for ``adk serve-model``).

        Returns:
            The process's exit code (``0`` if it was never started).
        """
        proc = self._proc
        return 0 if proc is None else proc.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalServer:
        import anyio.to_thread

        try:
            return await anyio.to_thread.run_sync(self.start, abandon_on_cancel=True)
        except BaseException:
            self.stop()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"LocalServer({self.model.name!r}, {self.host}:{self.port}, {state})"
