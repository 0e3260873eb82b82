"""advisor: a build-vs-buy advisor for getting an LLM."""

__all__: list[str] = []
