"""Batteries: provider executors and tool-schema rendering (PORT.md §2, §8).

* :mod:`adk.batteries.schemas` — one :class:`adk.Tool` rendered as OpenAI, Anthropic or MCP
  tool definitions (no extra needed).
* :mod:`adk.batteries.openai` — ``OpenAIChatExecutor`` for OpenAI-compatible chat
  completions (OpenAI, vLLM, Ollama, llama.cpp); extra ``openai``.
* :mod:`adk.batteries.anthropic` — ``AnthropicMessagesExecutor`` for the Anthropic
  Messages API; extra ``anthropic``.

Each provider module is imported on its own, so a missing extra only affects that module
(``E_EXTRA_MISSING`` with the ``pip install`` line).
"""
