"""Fixtures for the report tests (data lives in report_fixtures.py so tests can import it)."""

from report_fixtures import hostile_run

__all__ = ["hostile_run"]
