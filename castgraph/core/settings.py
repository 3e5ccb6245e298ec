"""Settings, read from ``CASTGRAPH_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from castgraph.core.cron import zone
from castgraph.core.errors import InputError

TranscriberName = Literal["faster-whisper", "openai-whisper"]
DiarizerName = Literal["embedding", "pyannote", "none"]
CaptionsMode = Literal["never", "prefer", "only"]
GraphBackend = Literal["embedded", "neo4j", "none"]
VectorBackend = Literal["chroma", "chroma-server", "flat"]
KeywordBackend = Literal["sqlite"]
ExtractorName = Literal["offline", "llm", "none"]
GeneratorName = Literal["auto", "extractive", "openai", "llamacpp"]


def captions_mode(text: str, *, option: str = "captions") -> CaptionsMode:
    """``text`` as a captions mode; an InputError naming ``option`` when it is none of them."""
    modes: tuple[CaptionsMode, ...] = get_args(CaptionsMode)
    for mode in modes:
        if mode == text:
            return mode
    raise InputError(f"{option} {text!r}: choose never, prefer or only")


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "castgraph"


def is_header_token(text: str) -> bool:
    """Non-empty printable ASCII without spaces (0x21–0x7E): what an API key may hold."""
    return bool(text) and all("!" <= c <= "~" for c in text)


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
    whisper_batch_size: int | None = Field(
        default=None,
        ge=0,
        description="Windows faster-whisper decodes at once (its batched pipeline); unset: 16 on "
        "CUDA, 0 (sequential) on CPU.",
    )
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
    max_download_bytes: int = Field(
        default=4 * 1024**3,
        gt=0,
        description="A media download stops, and its item fails, past this many bytes.",
    )
    min_free_mb: int = Field(
        default=100,
        ge=0,
        description="Ingestion stops an episode, with a clear error, when the data or media "
        "directory has less free space than this (MB): a store cut off by a full disk mid-write "
        "can abort the process (the embedded graph does). 0: no check.",
    )
    max_duration_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="Media lasting longer (from its metadata, else from decoding) is refused.",
    )
    max_items_per_run: int = Field(
        default=200,
        ge=1,
        description="New or unfinished episodes one run takes on, oldest first; the rest of a "
        "huge feed waits for the next run (and is not even registered in this one).",
    )
    ffmpeg_timeout: float = Field(
        default=1800.0,
        gt=0,
        description="Seconds one ffmpeg decode may run before it is killed and its item fails "
        "(decoding runs at ~100x real time: room for MAX_DURATION_S on a slow machine).",
    )

    chunk_tokens: int = Field(default=128, ge=16, le=2048, description="Chunk size bound.")
    chunk_overlap: int = Field(default=24, ge=0, le=512)
    extractor: ExtractorName = "offline"
    embedding_model: str = Field(
        default="use-multilingual-v3",
        description="Packaged model name, a local path, or any sentence-transformers model.",
    )
    embedding_device: str = "cpu"
    chroma_url: str | None = Field(default=None, description="Chroma server; local files if unset.")
    vector_backend: VectorBackend | None = Field(
        default=None,
        description="flat (local files, every vector in memory, exact scores: nothing out of "
        "reach on a big channel), chroma (Chroma's embedded database) or chroma-server "
        "(CHROMA_URL); unset: chroma-server when CHROMA_URL is set, else flat.",
    )
    vector_ef_search: int = Field(
        default=400,
        ge=10,
        le=5000,
        description="Chroma's HNSW ef_search: how widely a vector search looks (higher finds "
        "more of the true nearest chunks, a little slower).",
    )
    keyword_backend: KeywordBackend = "sqlite"
    graph_backend: GraphBackend = "embedded"
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str | None = None
    graph_hops: int = Field(default=2, ge=0, le=3)

    weight_vector: float = Field(default=1.0, ge=0)
    weight_keyword: float = Field(default=1.0, ge=0)
    weight_graph: float = Field(default=1.0, ge=0)
    search_candidates: int = Field(default=50, ge=1, le=500)
    rerank_model: str | None = Field(default=None, description="A cross-encoder; off when unset.")

    generator: GeneratorName = Field(
        default="auto",
        description="auto: an OpenAI-compatible endpoint when LLM_BASE_URL is set, a local GGUF "
        "when LLM_MODEL_PATH is set, else the extractive answerer.",
    )
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model_path: Path | None = Field(default=None, description="A local GGUF file.")
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_tokens: int = Field(default=512, ge=16, le=8192)
    llm_fallback: Literal["none", "extractive"] = "none"
    llm_queue: int = Field(
        default=4,
        ge=0,
        le=256,
        description="Answers a local GGUF model (llama.cpp) keeps waiting behind the one it "
        "writes; past it, chat gets 503 with Retry-After.",
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        default=None,
        description="Required by write endpoints (and by reads when PUBLIC_READ is off); "
        "printable ASCII, no spaces.",
    )
    public_read: bool = Field(
        default=True,
        description="Read endpoints (/api, /v1, /media) open to anyone; off: they need the key.",
    )
    rate_limit_chat: int = Field(
        default=30, ge=0, description="Answers per minute per client (/api/chat, /v1); 0 = off."
    )
    rate_limit_search: int = Field(
        default=120, ge=0, description="Searches per minute per client (/api/search); 0 = off."
    )
    max_inflight: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Searches and answers (/api/search, /api/chat, /v1/chat/completions) served "
        "at once; past it, requests wait ADMISSION_WAIT_MS, then get 503 with Retry-After.",
    )
    search_processes: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Worker processes, for each retriever, that run keyword, graph and (flat) "
        "vector search for castgraph serve, so that concurrent searches use more than one core "
        "(each holds its own caches and embedding model, a few hundred MB); 0 = in the server "
        "process.",
    )
    admission_wait_ms: int = Field(
        default=250, ge=0, le=10_000, description="How long a request waits for a free slot."
    )
    public_url: str | None = Field(
        default=None,
        description="The server's address as readers reach it (e.g. behind a proxy): the base of "
        "the /media links the CLI prints; http://HOST:PORT when unset.",
    )
    # --- hostile requests (issue 13) ---
    max_body_bytes: int = Field(
        default=4 * 1024**2,
        ge=1024,
        description="A request body past this many bytes is refused with 413, unread.",
    )
    max_url_bytes: int = Field(
        default=16 * 1024,
        ge=256,
        description="A request target (path and query string) past this many bytes gets 414.",
    )
    client_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a client may take to send a request's headers, and again its body: "
        "past it, 408 and the connection is closed.",
    )

    # --- subscriptions, schedule and jobs (issue 10) ---
    timezone: str = Field(default="UTC", description="Time zone of subscription schedules.")
    default_cron: str = Field(default="0 3 * * *", description="Schedule of new subscriptions.")
    worker: bool = Field(default=True, description="Run the scheduler and job worker in serve.")
    tick_seconds: float = Field(default=60.0, gt=0, description="How often the scheduler ticks.")
    job_timeout: float = Field(
        default=600.0, gt=0, description="A running job silent this long (seconds) is swept."
    )
    retry_attempts: int = Field(default=3, ge=1, le=10, description="Tries per failing item.")
    retry_backoff: float = Field(default=30.0, ge=0, description="First retry wait (seconds).")
    bot_pause: float = Field(
        default=6 * 3600.0,
        ge=0,
        description="Seconds a subscription pauses after a bot check or HTTP 429.",
    )
    # --- scale-out: Celery on Redis (issue 11) ---
    queue_url: str | None = Field(
        default=None,
        description="Celery broker (redis://…): workers run `castgraph worker`, one `castgraph "
        "beat` sends the tick; unset, serve's in-process worker does everything.",
    )
    worker_max_tasks: int = Field(
        default=20, ge=1, description="Tasks a queue worker process runs before it is replaced."
    )
    lease_seconds: float = Field(
        default=900.0,
        gt=0,
        description="An episode's processing lease, renewed while a step works; a lease left to "
        "expire (its worker died) is taken over.",
    )
    media_root: Path | None = Field(
        default=None,
        validation_alias="CASTGRAPH_MEDIA_DIR",
        description="Downloaded media ($CASTGRAPH_DATA_DIR/media when unset): a volume the "
        "download and asr workers and the API servers share, when each keeps its own data dir.",
    )
    queue_visibility_timeout: float = Field(
        default=12 * 3600.0,
        gt=0,
        description="Seconds before Redis gives an unacknowledged task to another worker: longer "
        "than the longest episode's step.",
    )
    ytdlp_sleep: float = Field(default=0.0, ge=0, description="Seconds between downloads.")
    ytdlp_rate_limit: str | None = Field(default=None, description="e.g. 2M (bytes/s).")
    ytdlp_cookies: Path | None = Field(default=None, description="A cookies.txt for yt-dlp.")
    ytdlp_proxy: str | None = Field(default=None, description="e.g. socks5://127.0.0.1:1080.")
    ytdlp_po_token: SecretStr | None = Field(
        default=None, description="YouTube PO token, e.g. web.gvs+TOKEN (yt-dlp extractor arg)."
    )

    ui_dir: Path | None = Field(
        default=None,
        description="Serve the web UI from this folder instead of the one shipped with castgraph.",
    )

    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    @field_validator("language")
    @classmethod
    def _blank_language_is_auto(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            zone(value)
        except InputError as exc:
            raise ValueError("unknown time zone: give an IANA name such as Europe/Madrid") from exc
        return value

    @field_validator("api_key")
    @classmethod
    def _key_is_header_safe(cls, value: SecretStr | None) -> SecretStr | None:
        # Clients send the key in an HTTP header: only visible ASCII survives every client intact
        # (browsers refuse other bytes in fetch headers), so anything else is a typo to report now.
        if value is not None and not is_header_token(value.get_secret_value()):
            raise ValueError("must be printable ASCII without spaces, e.g. `openssl rand -hex 32`")
        return value

    @field_validator("public_read")
    @classmethod
    def _private_reads_need_a_key(cls, value: bool, info: ValidationInfo) -> bool:
        # api_key is declared (so validated) first; without one, nobody could read at all.
        if not value and info.data.get("api_key") is None:
            raise ValueError("false needs CASTGRAPH_API_KEY (the key that opens the reads)")
        return value

    @field_validator("vector_backend")
    @classmethod
    def _server_needs_a_url(
        cls, value: VectorBackend | None, info: ValidationInfo
    ) -> VectorBackend | None:
        # chroma_url is declared (so validated) first.
        if value == "chroma-server" and not info.data.get("chroma_url"):
            raise ValueError(
                "chroma-server needs CASTGRAPH_CHROMA_URL (e.g. http://localhost:8001)"
            )
        return value

    @property
    def resolved_vector_backend(self) -> VectorBackend:
        """The explicit vector backend, else the one the Chroma URL implies."""
        if self.vector_backend is not None:
            return self.vector_backend
        return "chroma-server" if self.chroma_url else "flat"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'catalog.db'}"

    @property
    def resolved_whisper_batch_size(self) -> int:
        if self.whisper_batch_size is not None:
            return self.whisper_batch_size
        return 16 if self.whisper_device.startswith("cuda") else 0

    @property
    def media_dir(self) -> Path:
        return self.media_root or self.data_dir / "media"

    @property
    def keyword_path(self) -> Path:
        return self.data_dir / "keyword.sqlite"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def flat_vectors_path(self) -> Path:
        return self.data_dir / "vectors"

    @property
    def graph_path(self) -> Path:
        return self.data_dir / "graph.lbug"

    @property
    def graph_read_path(self) -> Path:
        """The graph read model (what graph search reads), derived from the graph."""
        return self.data_dir / "graph-read.sqlite"
