"""The server child process: runs xllamacpp's llama.cpp HTTP server until told to stop.

Started by :class:`adk.batteries.local.LocalServer` as ``python <this file> <json>``
(standard library and ``xllamacpp`` only; it never imports ``adk``). It stops, at once and
whole (``os._exit``), when

* its standard input reaches end of file: the parent closed the pipe or died, even by
  ``SIGKILL`` (so the server is never left running without its parent), or
* it receives ``SIGTERM``, ``SIGINT`` or ``SIGHUP``.

The argument is one JSON object: ``model`` (GGUF path), ``host``, ``port``, ``n_ctx``,
``alias``, ``template`` (a chat template file, or ``null``), ``threads`` (``null``: all).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
from typing import Any


def _exit_now(*_: object) -> None:
    os._exit(0)


def _watch_stdin() -> None:
    try:
        while sys.stdin.buffer.read(1 << 16):
            pass
    except (OSError, ValueError):
        pass
    _exit_now()


def main(argv: list[str]) -> None:
    """Start the server from the JSON options in ``argv[0]`` and block until stopped."""
    opts: dict[str, Any] = json.loads(argv[0])
    for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _exit_now)
    threading.Thread(target=_watch_stdin, name="adk-parent-watch", daemon=True).start()

    xlc: Any = importlib.import_module("xllamacpp")  # untyped extension module
    params: Any = xlc.CommonParams()
    params.model.path = opts["model"]
    params.n_ctx = int(opts["n_ctx"])
    params.n_parallel = 1
    params.hostnames = [opts["host"]]
    params.port = int(opts["port"])
    params.model_alias = {opts["alias"]}
    if opts.get("threads"):
        params.cpuparams.n_threads = int(opts["threads"])
        params.cpuparams_batch.n_threads = int(opts["threads"])
    if opts.get("template"):
        with open(opts["template"], encoding="utf-8") as fh:
            params.chat_template = fh.read()
        params.use_jinja = True
    server: Any = xlc.Server(params)
    try:
        while True:
            time.sleep(3600)
    finally:
        del server


if __name__ == "__main__":
    main(sys.argv[1:])
