"""OpenAI-compatible chat completions as a dispatch executor (extra ``openai``).

Serves OpenAI, vLLM, Ollama (``/v1``) and llama.cpp servers through the official
``openai`` SDK (``AsyncOpenAI``)::

    from adk.batteries.openai import OpenAIChatExecutor

    executor = OpenAIChatExecutor(model="qwen", base_url="http://127.0.0.1:8080/v1")
    runner = adk.TurnRunner(executor=executor, tools=[...])

Importing this module without the SDK raises ``E_EXTRA_MISSING`` whose ``help`` is
``pip install 'adk[openai]'``.
"""

from __future__ import annotations

try:
    import openai as _openai  # noqa: F401  # pyright: ignore[reportUnusedImport]
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    from adk.errors import extra_missing

    raise extra_missing("openai", "openai") from _exc

from adk.batteries._retry import RetryPolicy
from adk.batteries.openai._executor import (
    OpenAIChatExecutor,
    render_messages,
    translate_error,
)

__all__ = ["OpenAIChatExecutor", "RetryPolicy", "render_messages", "translate_error"]
