"""Test helpers users import in their own tests (PORT.md §2).

* :class:`ScriptedExecutor` with :class:`TextStep`, :class:`ToolStep`,
  :class:`ToolRequest` and :class:`ErrorStep`: a deterministic model stand-in that runs
  real tools, no network.
* :class:`OpenAIStubServer` with :class:`StubResponse`: an OpenAI-compatible HTTP server
  on 127.0.0.1 replaying recorded SSE streams, errors, cut and stalled streams (standard
  library only; works with the real ``openai`` SDK).
"""

from adk.testing.scripted import (
    ErrorStep,
    ScriptedCall,
    ScriptedExecutor,
    Step,
    TextStep,
    ToolRequest,
    ToolStep,
)
from adk.testing.stub_server import OpenAIStubServer, RecordedRequest, StubResponse, sse_frames

__all__ = [
    "ErrorStep",
    "OpenAIStubServer",
    "RecordedRequest",
    "ScriptedCall",
    "ScriptedExecutor",
    "Step",
    "StubResponse",
    "TextStep",
    "ToolRequest",
    "ToolStep",
    "sse_frames",
]
