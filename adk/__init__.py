"""adk: LLM agent turns as composable middleware pipelines (a port of @nhtio/adk).

The public API, flat::

    from adk import DispatchRunner, Message, ToolCall, tool, AbortController

Errors live in :mod:`adk.errors` (``AdkError`` and one class per ``E_…`` code).
"""

from adk._version import __version__
from adk.contracts.dispatch_context import DispatchContext
from adk.contracts.events import (
    DispatchEnd,
    DispatchStart,
    GenerationStats,
    GenerationStatsEvent,
    IterationEnd,
    IterationStart,
    LogEvent,
    ToolExecutionEnd,
    ToolExecutionStart,
    TurnEnd,
    TurnGateClosed,
    TurnStart,
    TurnStreamableContent,
    TurnToolCallContent,
    WarningEvent,
)
from adk.contracts.record_set import RecordSet
from adk.contracts.store import ContextStore
from adk.contracts.turn_context import TurnContext
from adk.errors import AbortError, AdkError
from adk.primitives import (
    ArtifactTool,
    EstimationWarning,
    Identity,
    Memory,
    Message,
    MessageRole,
    Registry,
    Retrievable,
    RetrievableTrustTier,
    Thought,
    TokenEncoding,
    Tokenizable,
    Tool,
    ToolCall,
    ToolCallResults,
    ToolRegistry,
    canonical_json,
    register_token_estimator,
    tool,
    tool_call_checksum,
)
from adk.primitives.codec import (
    decode,
    encode,
    register_codec,
    register_evaluator,
    register_handler,
)
from adk.runners.abort import AbortController, AbortSignal
from adk.runners.dispatch import DispatchRunner
from adk.runners.gate import TurnGate
from adk.runners.helpers import DispatchExecutorHelpers
from adk.runners.onion import run_onion
from adk.runners.turn import TurnResult, TurnRunner
from adk.stores.memory import InMemoryStore

__all__ = (
    "AbortController",
    "AbortError",
    "AbortSignal",
    "AdkError",
    "ArtifactTool",
    "ContextStore",
    "DispatchContext",
    "DispatchEnd",
    "DispatchExecutorHelpers",
    "DispatchRunner",
    "DispatchStart",
    "EstimationWarning",
    "GenerationStats",
    "GenerationStatsEvent",
    "Identity",
    "InMemoryStore",
    "IterationEnd",
    "IterationStart",
    "LogEvent",
    "Memory",
    "Message",
    "MessageRole",
    "RecordSet",
    "Registry",
    "Retrievable",
    "RetrievableTrustTier",
    "Thought",
    "TokenEncoding",
    "Tokenizable",
    "Tool",
    "ToolCall",
    "ToolCallResults",
    "ToolExecutionEnd",
    "ToolExecutionStart",
    "ToolRegistry",
    "TurnContext",
    "TurnEnd",
    "TurnGate",
    "TurnGateClosed",
    "TurnResult",
    "TurnRunner",
    "TurnStart",
    "TurnStreamableContent",
    "TurnToolCallContent",
    "WarningEvent",
    "__version__",
    "canonical_json",
    "decode",
    "encode",
    "register_codec",
    "register_evaluator",
    "register_handler",
    "register_token_estimator",
    "run_onion",
    "tool",
    "tool_call_checksum",
)
