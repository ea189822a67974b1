"""llmctl: prompt versioning and LLM evaluation in CI."""

__version__ = "0.1.0"
