r"""The ``adk`` command (console script ``adk = adk.cli:main``; standard library only).

::

    adk chat "What is 37 * 43 plus 12?"                  # local Qwen 0.5B, offline
    adk chat "Hello" --model local-smollm                 # plain chat, no tools
    adk chat "Hi" --model gpt-4o-mini --api-key-env OPENAI_API_KEY
    adk chat "Hi" --model qwen --base-url http://127.0.0.1:8080/v1
    adk chat "Hi" --provider anthropic --model claude-3-5-haiku-latest \\
        --api-key-env ANTHROPIC_API_KEY
    adk serve-model --model local-qwen --port 8080        # foreground, Ctrl-C stops it
    adk chat "What is 37 * 43 plus 12?" --trace turn.jsonl  # record the turn
    adk replay turn.jsonl [--live-tools]                  # replay it without a model
    adk eval traces/ --config mypkg.candidate:build       # evaluate a configuration

``adk chat`` runs one agent turn with demo tools (``calculator``, ``current_utc_time``,
``convert_units``; choose with ``--tool``, none with ``--no-tools``), streams the answer,
shows each tool call and result, then usage: tokens, wall time, tokens/s and the
framework's own share of the wall time. ``--json`` prints one JSON object per event.

``adk chat --trace``, ``adk replay`` and ``adk eval`` are described in
:mod:`adk.cli._trace`.

Exit codes: 0 the turn completed; 1 it failed (or a runtime error); 2 a usage error;
130 interrupted. Errors are one line (``adk: error: …``), never a traceback (set
``ADK_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from adk._version import __version__

__all__ = ["main"]

_LOCAL = ("local-qwen", "local-smollm")
_TOOLS = ("calculator", "current_utc_time", "convert_units")


class _UsageError(Exception):
    """A bad combination of flags (exit 2)."""


class CommandError(Exception):
    """A command failed before it could run (a one-line error, then ``exit_code``).

    Args:
        message: The one-line explanation.
        exit_code: 2 for a usage error (a bad argument), 1 otherwise.
        code: The error code printed with ``--json`` (``"usage"``, ``"E_TRACE_FORMAT"``…).
    """

    def __init__(self, message: str, *, exit_code: int, code: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``adk: error: …``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"adk: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``adk`` (``chat``, ``serve-model``, ``replay``, ``eval``)."""
    parser = _Parser(prog="adk", description="Run agent turns with adk.")
    parser.add_argument("--version", action="version", version=f"adk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    chat = sub.add_parser("chat", help="run one agent turn and stream the answer")
    chat.add_argument("prompt", help="the question")
    chat.add_argument(
        "--model",
        default="local-qwen",
        help="local-qwen (default), local-smollm, or a provider's model name",
    )
    chat.add_argument("--base-url", help="an OpenAI-compatible (or Anthropic) base URL")
    chat.add_argument(
        "--api-key-env", metavar="VAR", help="the environment variable holding the API key"
    )
    chat.add_argument("--provider", choices=("openai", "anthropic"), default="openai")
    chat.add_argument(
        "--tool",
        action="append",
        choices=_TOOLS,
        metavar="NAME",
        help=f"offer this demo tool (repeatable; default: all of {', '.join(_TOOLS)})",
    )
    chat.add_argument("--no-tools", action="store_true", help="offer no tools")
    chat.add_argument("--system", help="the system prompt")
    chat.add_argument("--max-tokens", type=_positive_int, default=512)
    chat.add_argument("--temperature", type=float, default=0.0)
    chat.add_argument("--max-iterations", type=_positive_int, default=4)
    chat.add_argument("--timeout", type=_positive_float, default=300.0, help="seconds")
    chat.add_argument("--json", action="store_true", help="one JSON object per event")
    chat.add_argument(
        "--trace",
        metavar="FILE_OR_DIR",
        help="record the turn: a .jsonl file (one turn, replaced), or a directory for "
        "<turn_id>.jsonl",
    )
    _local_flags(chat)

    serve = sub.add_parser("serve-model", help="serve a local model in the foreground")
    serve.add_argument("--model", choices=_LOCAL, default="local-qwen")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, help="default: a free port")
    serve.add_argument("--json", action="store_true", help="one JSON object per event")
    _local_flags(serve)

    replay = sub.add_parser("replay", help="replay a recorded turn without a model")
    replay.add_argument(
        "trace", help="the .jsonl trace file: one turn, or a trace log of several turns"
    )
    replay.add_argument(
        "--turn",
        metavar="TURN_ID",
        help="the turn to replay (required for a trace log of several turns)",
    )
    replay.add_argument(
        "--live-tools",
        action="store_true",
        help="run the demo tools for real and report results that differ from the trace",
    )
    replay.add_argument("--json", action="store_true", help="one JSON object per event")

    ev = sub.add_parser("eval", help="evaluate a runner configuration on a corpus of traces")
    ev.add_argument(
        "corpus",
        metavar="CORPUS_DIR",
        help="a directory of .jsonl traces (every turn of each file, trace logs included)",
    )
    ev.add_argument(
        "--config",
        required=True,
        metavar="MODULE:FUNCTION",
        help="function(executor) -> TurnRunner (its `checks` attribute: extra checks)",
    )
    ev.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="SPEC",
        help="a built-in check (repeatable): contains:TEXT, equals:TEXT, tool:NAME, "
        "no-tool:NAME, no-error, max-iterations:N",
    )
    ev.add_argument("--live-tools", action="store_true", help="run the tools for real")
    ev.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return parser


def _local_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", help="where the joined model is cached")
    p.add_argument("--startup-timeout", type=_positive_float, default=180.0, help="seconds to load")


def _chat_tools(args: argparse.Namespace) -> list[str]:
    if args.no_tools and args.tool:
        raise _UsageError("--tool and --no-tools cannot be combined")
    if args.no_tools:
        return []
    if args.model == "local-smollm":
        if args.tool:
            raise _UsageError("local-smollm cannot call tools; drop --tool")
        return []
    return list(dict.fromkeys(args.tool or _TOOLS))


def _api_key(args: argparse.Namespace) -> str | None:
    var = args.api_key_env
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise _UsageError(f"the environment variable {var} (--api-key-env) is not set")
    return value


def _check_chat(args: argparse.Namespace) -> None:
    if not args.prompt.strip():
        raise _UsageError("the prompt is empty")
    if not 0 <= args.temperature <= 2:
        raise _UsageError("--temperature must be in [0, 2]")
    if args.model in _LOCAL and args.provider != "openai":
        raise _UsageError(f"{args.model} is served OpenAI-compatible; drop --provider")
    if (
        args.model not in _LOCAL
        and args.provider == "openai"
        and not args.base_url
        and not (args.api_key_env or os.environ.get("OPENAI_API_KEY"))
    ):
        raise _UsageError(
            f"model {args.model!r} needs --base-url, or --api-key-env for the OpenAI API"
        )


def _run_chat(args: argparse.Namespace, out: Any) -> int:
    import anyio

    from adk.cli._chat import ChatOptions, run_chat

    tools = _chat_tools(args)
    key = _api_key(args)
    pipeline: list[Any] = []
    model_name = args.model
    base_url = args.base_url
    server: Any = None
    if args.model in _LOCAL:
        from adk.batteries.local import MODELS, LocalServer, recommended_pipeline

        local = MODELS[args.model]
        model_name = local.served_name
        pipeline = recommended_pipeline(
            local,
            iterations=args.max_iterations,
            on_hide=lambda _ctx, reason: out.note(f"tools hidden: {reason}"),  # pyright: ignore[reportUnknownLambdaType]
        )
        if base_url is None:
            server = LocalServer(
                local,
                cache_dir=args.cache_dir,
                startup_timeout=args.startup_timeout,
                on_progress=out.progress,
            )
    else:
        from adk.middleware import max_iterations

        pipeline = [max_iterations(args.max_iterations, final_answer=True)]
    opts = ChatOptions(
        prompt=args.prompt,
        provider=args.provider,
        model=model_name,
        base_url=base_url,
        api_key=key,
        tools=tools,
        system_prompt=args.system,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        timeout=args.timeout,
        pipeline=pipeline,
        trace=args.trace,
    )
    try:
        if server is not None:
            t0 = time.monotonic()
            out.info(f"starting {args.model} (llama.cpp on 127.0.0.1)…")
            server.start()
            out.info(
                f"model ready in {time.monotonic() - t0:.1f} s at {server.base_url}",
                base_url=server.base_url,
                pid=server.pid,
            )
            opts.base_url = server.base_url
        report = anyio.run(run_chat, opts, out)
    finally:
        if server is not None:
            server.stop()
    result = report.result
    for err in result.errors:
        from adk.cli._chat import describe_error

        out.error(describe_error(err), code=getattr(err, "code", type(err).__name__))
    if report.trace_path is not None:
        out.info(f"trace written to {report.trace_path}", trace=str(report.trace_path))
    wall = report.wall_s
    share = 100 * report.framework_s / wall if wall else 0.0
    tps = f" · {report.decode_tps:.1f} tok/s" if report.decode_tps else ""
    out.summary(
        f"{result.status} · {report.requests} model request(s) · "
        f"{len(report.tool_calls)} tool call(s) · "
        f"{report.prompt_tokens}+{report.completion_tokens} tokens · {wall:.2f} s{tps} · "
        f"model {report.model_s:.2f} s, tools {report.tool_s * 1000:.0f} ms, "
        f"adk {report.framework_s * 1000:.0f} ms ({share:.1f}%)",
        status=result.status,
        dispatch_status=result.dispatch_status,
        answer=report.answer,
        iterations=report.iterations,
        requests=report.requests,
        tool_calls=len(report.tool_calls),
        prompt_tokens=report.prompt_tokens,
        completion_tokens=report.completion_tokens,
        duration_ms=result.duration_ms,
        model_ms=report.model_s * 1000,
        tool_ms=report.tool_s * 1000,
        framework_ms=report.framework_s * 1000,
        decode_tokens_per_s=report.decode_tps,
    )
    return 0 if result.status == "completed" else 1


def _run_serve(args: argparse.Namespace, out: Any) -> int:
    from adk.batteries.local import LocalServer

    server = LocalServer(
        args.model,
        cache_dir=args.cache_dir,
        host=args.host,
        port=args.port,
        startup_timeout=args.startup_timeout,
        on_progress=out.progress,
    )
    try:
        t0 = time.monotonic()
        out.info(f"starting {args.model}…")
        server.start()
        out.info(
            f"serving {server.model_name} at {server.base_url} "
            f"(ready in {time.monotonic() - t0:.1f} s; Ctrl-C stops it)",
            base_url=server.base_url,
            model=server.model_name,
            pid=server.pid,
        )
        code = server.wait()
        out.error(f"the model server exited with code {code}")
        return 1
    finally:
        server.stop()


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``adk`` command.

    Args:
        argv: The arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns:
        The exit code (also what the console script exits with): 0 success, 1 failure,
        2 usage error, 130 interrupted.
    """
    from adk.cli._output import Output

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 0
    out = Output(json_mode=bool(getattr(args, "json", False)))
    previous: Any = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        if args.command == "chat":
            _check_chat(args)
            return _run_chat(args, out)
        if args.command in ("replay", "eval"):
            from adk.cli._trace import run_eval, run_replay

            return (run_replay if args.command == "replay" else run_eval)(args, out)
        return _run_serve(args, out)
    except _UsageError as exc:
        out.error(f"{exc} (see 'adk {args.command} --help')", code="usage")
        return 2
    except CommandError as exc:
        hint = f" (see 'adk {args.command} --help')" if exc.exit_code == 2 else ""
        out.error(" ".join(f"{exc}{hint}".split()), code=exc.code)
        return exc.exit_code
    except KeyboardInterrupt:
        out.error("interrupted", code="interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("ADK_DEBUG"):
            raise
        from adk.errors import AdkError

        if isinstance(exc, AdkError):
            text = str(exc)
            if exc.help and exc.help not in text:
                text += f" (fix: {exc.help})"
            code = exc.code
        elif isinstance(exc, ImportError):
            text, code = f"a dependency is missing: {exc}", "import"
        else:
            text, code = f"{type(exc).__name__}: {exc}", type(exc).__name__
        out.error(" ".join(text.split()), code=code)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
