"""openai-whisper checkpoints converted from installed CTranslate2 Whisper models.

``<models_dir>/openai-whisper/<name>.pt`` is written to a temporary file, loaded back into
openai-whisper's model (strict names and shapes) and only then renamed into place, with a marker
beside it. ``torch.save`` output depends on the torch version, so the check is structural, not a
fixed hash; the marker records the hash of what was written and of the model.bin it came from.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import replace
from pathlib import Path

from castgraph.core.errors import ModelError
from castgraph.modelfiles._install import (
    MARKER,
    InstalledModel,
    files_match_marker,
    make_temp,
    read_marker,
    sha256_file,
    write_marker,
)

logger = logging.getLogger(__name__)

OPENAI_HINT = "pip install 'castgraph[openai-whisper]'"


def checkpoint_path(models_dir: Path, name: str) -> Path:
    """Where the openai-whisper checkpoint for Whisper ``name`` lives."""
    return models_dir / "openai-whisper" / f"{name}.pt"


def _marker_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.castgraph-installed.json")


def openai_whisper_available() -> bool:
    """Whether openai-whisper (and so torch) can be imported, without importing them."""
    return all(importlib.util.find_spec(m) is not None for m in ("whisper", "torch"))


def _result(name: str, path: Path, status: str, marker: dict[str, object]) -> InstalledModel:
    files = marker.get("files")
    info = files.get(path.name, {}) if isinstance(files, dict) else {}
    return InstalledModel(
        name=f"openai-whisper/{name}",
        path=path,
        source=str(marker.get("source", "")) or None,
        licence=str(marker.get("licence", "unknown")),
        sha256=info.get("sha256") if isinstance(info, dict) else None,
        status="installed" if status == "installed" else "present",
    )


def present_checkpoint(models_dir: Path, name: str) -> InstalledModel | None:
    """The usable checkpoint already there: converted by castgraph with its marker still matching
    (no hashing), or one castgraph did not write (openai-whisper's own download, a user's file)."""
    path = checkpoint_path(models_dir, name)
    marker_path = _marker_path(path)
    marker = read_marker(marker_path)
    if marker is not None and files_match_marker(path.parent, marker):
        return _result(name, path, "present", marker)
    if path.is_file() and not marker_path.exists():
        unknown: dict[str, object] = {"licence": "unknown (not installed by castgraph)"}
        return _result(name, path, "present", unknown)
    return None


def _source_info(ct2_dir: Path) -> dict[str, object]:
    """Source label, licence and model.bin hash of a CTranslate2 model, from its install marker."""
    marker = read_marker(ct2_dir / MARKER) or {}
    label = f"converted from {ct2_dir.parent.name}/{ct2_dir.name}"
    if marker.get("source"):
        label += f" ({marker['source']})"
    model_bin = marker.get("files", {}).get("model.bin", {})
    digest = model_bin.get("sha256") if isinstance(model_bin, dict) else None
    return {
        "source": label,
        "licence": str(marker.get("licence", "unknown")),
        "source_sha256": digest or sha256_file(ct2_dir / "model.bin"),
    }


def convert_checkpoint(models_dir: Path, name: str) -> InstalledModel:
    """Convert ``<models_dir>/whisper/<name>`` to an openai-whisper checkpoint, atomically."""
    from castgraph.modelfiles.ct2_convert import convert_whisper, verify_whisper_checkpoint

    ct2_dir = models_dir / "whisper" / name
    path = checkpoint_path(models_dir, name)
    logger.info("converting %s to an openai-whisper checkpoint at %s", ct2_dir, path)
    tmp = make_temp(path, directory=False)
    try:
        dims = convert_whisper(ct2_dir, tmp)
        marker = {
            "name": f"openai-whisper/{name}",
            **_source_info(ct2_dir),
            "dims": dims,
            "tensors": verify_whisper_checkpoint(tmp),
            "files": {path.name: {"sha256": sha256_file(tmp), "size": tmp.stat().st_size}},
        }
        tmp.replace(path)
        write_marker(_marker_path(path), marker)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot write {path}: {e}") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _result(name, path, "installed", marker)


def ensure_checkpoint(models_dir: Path, name: str, hint: str) -> InstalledModel:
    """The converted checkpoint of ``whisper/<name>``: present, freshly converted, or missing."""
    present = present_checkpoint(models_dir, name)
    if present is not None:
        return present
    path = checkpoint_path(models_dir, name)
    missing = InstalledModel(f"openai-whisper/{name}", path, None, "unknown", None, "missing")
    if not openai_whisper_available():
        return replace(missing, hint=OPENAI_HINT)
    if not (models_dir / "whisper" / name / "model.bin").is_file():
        return replace(missing, hint=hint)
    return convert_checkpoint(models_dir, name)
