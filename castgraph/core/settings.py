"""Settings, read from ``CASTGRAPH_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TranscriberName = Literal["faster-whisper", "openai-whisper"]
DiarizerName = Literal["embedding", "pyannote", "none"]
CaptionsMode = Literal["never", "prefer", "only"]


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "castgraph"


class Settings(BaseSettings):
    """Everything configurable. Backends receive plain values from here, never this object."""

    model_config = SettingsConfigDict(
        env_prefix="CASTGRAPH_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    models_dir: Path | None = Field(
        default=None, description="Local model files, looked up before any download."
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the catalog.")

    transcriber: TranscriberName = "faster-whisper"
    whisper_model: str = "base"
    whisper_device: str = "cpu"
    whisper_compute_type: str = "int8"
    whisper_beam_size: int = Field(default=5, ge=1, le=10)
    cpu_threads: int = Field(default=0, ge=0, description="0 = one per core.")
    language: str | None = None

    diarizer: DiarizerName = "embedding"
    num_speakers: int | None = Field(default=None, ge=1)
    max_speakers: int = Field(default=8, ge=1, le=32)
    pyannote_pipeline: str = "pyannote/speaker-diarization-3.1"
    hf_token: SecretStr | None = None
    voice_match_threshold: float = Field(default=0.80, gt=0, le=1)

    captions: CaptionsMode = "never"
    allow_private_urls: bool = False
    download_timeout: float = Field(default=60.0, gt=0)

    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    @field_validator("language")
    @classmethod
    def _blank_language_is_auto(cls, value: str | None) -> str | None:
        return value or None

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'catalog.db'}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"
