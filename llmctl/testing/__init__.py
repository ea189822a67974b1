"""Test and benchmark helpers: a local OpenAI-compatible server and a load generator."""

from llmctl.testing.server import FakeOpenAIServer, ServerConfig

__all__ = ["FakeOpenAIServer", "ServerConfig"]
