"""Installing packaged model files into the models directory, verified by sha256.

A model is copied into a temporary directory beside its destination, every file is hashed while
it is written, a marker file recording the hashes is written last, and only then is the directory
renamed into place. So a model directory either carries a marker (complete and verified once) or
is not castgraph's; a hash mismatch leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from castgraph.core.errors import ModelError
from castgraph.modelfiles._manifest import FileSpec, ModelSpec, SourceSpec

logger = logging.getLogger(__name__)

MARKER = ".castgraph-installed.json"
_CHUNK = 1 << 20

Status = Literal["installed", "present", "missing"]


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """The outcome of installing one model: where it is, where it came from, its licence."""

    name: str
    path: Path
    source: str | None
    licence: str
    sha256: str | None
    status: Status
    hint: str | None = None
    """For a missing model: the command that makes it available."""


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def locate(dist_name: str, rel_path: str) -> Path | None:
    """The installed file ``rel_path`` of distribution ``dist_name``, or None if absent."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(rel_path)))
    return path if path.is_file() else None


def _version(dist_name: str) -> str | None:
    try:
        return metadata.version(dist_name)
    except metadata.PackageNotFoundError:
        return None


def _source_available(source: SourceSpec) -> bool:
    return all(_version(d) is not None for d in source.distributions)


def _copy_joined(parts: list[Path], out: Path) -> tuple[str, int]:
    """Write the concatenation of ``parts`` to ``out``; return its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
    return digest.hexdigest(), size


def read_marker(marker: Path) -> dict[str, Any] | None:
    """The marker's content, or None when absent or unreadable."""
    try:
        data = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(marker: Path, data: dict[str, Any]) -> None:
    """Write a marker (to be done last, after verification)."""
    body = {"format": 1, "installed_at": datetime.now(UTC).isoformat(timespec="seconds"), **data}
    marker.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", "utf-8")


def files_match_marker(base: Path, marker: dict[str, Any]) -> bool:
    """Fast check: every file the marker lists exists with its recorded size (no hashing)."""
    files = marker.get("files")
    if not isinstance(files, dict) or not files:
        return False
    try:
        return all((base / rel).stat().st_size == int(info["size"]) for rel, info in files.items())
    except (OSError, KeyError, TypeError, ValueError):
        return False


def _from_marker(
    spec: ModelSpec, dest: Path, marker: dict[str, Any], status: Status
) -> InstalledModel:
    main = marker.get("files", {}).get(spec.main_file, {})
    return InstalledModel(
        name=spec.name,
        path=dest,
        source=marker.get("source"),
        licence=str(marker.get("licence", spec.licence)),
        sha256=main.get("sha256"),
        status=status,
    )


def _fetch_file(f: FileSpec, out: Path, model: str) -> dict[str, Any]:
    parts: list[Path] = []
    for dist, rel in f.parts:
        path = locate(dist, rel)
        if path is None:
            raise ModelError(
                f"{dist} is installed but lacks {rel}: "
                f"reinstall it (pip install --force-reinstall {dist})"
            )
        parts.append(path)
    digest, size = _copy_joined(parts, out)
    if digest != f.sha256:
        raise ModelError(
            f"sha256 mismatch for {model}/{f.dest} built from {', '.join(f.distributions)}: "
            f"expected {f.sha256}, got {digest}; nothing was installed"
        )
    return {"sha256": digest, "size": size}


def make_temp(dest: Path, *, directory: bool) -> Path:
    """A fresh temporary directory or file beside ``dest`` (so that renaming it is atomic)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            return Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        return Path(name)
    except OSError as e:
        raise ModelError(f"cannot write to {dest.parent}: {e}") from e


def _swap_into_place(tmp: Path, dest: Path) -> None:
    """Rename ``tmp`` to ``dest``, replacing a damaged ``dest`` of ours if there is one."""
    trash: Path | None = None
    if dest.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
        dest.replace(trash / dest.name)
    tmp.replace(dest)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def _install_from(spec: ModelSpec, source: SourceSpec, dest: Path) -> InstalledModel:
    logger.info("installing %s from %s into %s", spec.name, source.label, dest)
    tmp = make_temp(dest, directory=True)
    try:
        files = {f.dest: _fetch_file(f, tmp / f.dest, spec.name) for f in source.files}
        marker = {
            "name": spec.name,
            "source": source.label,
            "versions": {d: _version(d) for d in source.distributions},
            "licence": spec.licence,
            "files": files,
        }
        write_marker(tmp / MARKER, marker)
        _swap_into_place(tmp, dest)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raced = read_marker(dest / MARKER)
        if raced is not None and files_match_marker(dest, raced):  # another process won
            return _from_marker(spec, dest, raced, "present")
        raise ModelError(f"cannot install {spec.name} into {dest}: {e}") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _from_marker(spec, dest, marker, "installed")


def _adopt(spec: ModelSpec, dest: Path) -> InstalledModel | None:
    """Verify an unmarked directory against every known source; mark it when one matches."""
    for source in spec.sources:
        if not all((dest / f.dest).is_file() for f in source.files):
            continue
        files = {
            f.dest: {"sha256": sha256_file(dest / f.dest), "size": (dest / f.dest).stat().st_size}
            for f in source.files
        }
        if all(files[f.dest]["sha256"] == f.sha256 for f in source.files):
            marker = {
                "name": spec.name,
                "source": source.label,
                "licence": spec.licence,
                "files": files,
            }
            write_marker(dest / MARKER, marker)
            return _from_marker(spec, dest, marker, "present")
    return None


def ensure_model(spec: ModelSpec, models_dir: Path, hint: str) -> InstalledModel:
    """Install ``spec`` from the first available source unless already installed and verified."""
    dest = models_dir / spec.name
    marker = read_marker(dest / MARKER)
    if marker is not None and files_match_marker(dest, marker):
        return _from_marker(spec, dest, marker, "present")
    source = next((s for s in spec.sources if _source_available(s)), None)
    if dest.is_dir() and any(dest.iterdir()):
        if marker is None:
            adopted = _adopt(spec, dest)
            if adopted is not None:
                return adopted
            logger.warning(
                "%s holds files castgraph did not install; leaving them as they are", dest
            )
            return InstalledModel(spec.name, dest, None, "unknown (user-provided)", None, "present")
        if source is None:
            raise ModelError(f"{dest} is damaged (files changed since install); reinstall: {hint}")
        logger.warning("%s is damaged (files changed since install); reinstalling", dest)
    if source is None:
        return InstalledModel(spec.name, dest, None, spec.licence, None, "missing", hint)
    return _install_from(spec, source, dest)
