"""Validated, immutable data primitives (PRIMITIVES.md), plus Tokenizable and Registry."""

from adk.primitives.canonical import canonical_json, tool_call_checksum
from adk.primitives.identity import Identity
from adk.primitives.memory import Memory
from adk.primitives.message import Message, MessageRole
from adk.primitives.registry import Registry
from adk.primitives.retrievable import Retrievable, RetrievableTrustTier
from adk.primitives.thought import Thought
from adk.primitives.tokenizable import (
    EstimationWarning,
    TokenEncoding,
    Tokenizable,
    register_token_estimator,
)
from adk.primitives.tool import ArtifactTool, Tool, tool
from adk.primitives.tool_call import ToolCall, ToolCallResults
from adk.primitives.tool_registry import ToolRegistry

__all__ = (
    "ArtifactTool",
    "EstimationWarning",
    "Identity",
    "Memory",
    "Message",
    "MessageRole",
    "Registry",
    "Retrievable",
    "RetrievableTrustTier",
    "Thought",
    "TokenEncoding",
    "Tokenizable",
    "Tool",
    "ToolCall",
    "ToolCallResults",
    "ToolRegistry",
    "canonical_json",
    "register_token_estimator",
    "tool",
    "tool_call_checksum",
)
