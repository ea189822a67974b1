"""Domain errors. The CLI turns each into one message and an exit code (README, "Commands")."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130


class LlmctlError(Exception):
    """Base class: a message, optionally the file and line it is about."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.hint = hint

    def located(self) -> str:
        """`file:line: message` (or the parts that are known), plus the hint."""
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.located()


class Interrupted(LlmctlError):
    """Ctrl-C or SIGTERM stopped a command; finished work is kept (the hint says how to go on): exit 130."""

    exit_code = EXIT_INTERRUPTED


class InputError(LlmctlError):
    """Malformed or invalid user input (files, flags, refs): exit 2."""


class RenderError(InputError):
    """A template failed to render (undefined or missing variable, sandbox violation)."""


class RefError(InputError):
    """An unknown or ambiguous version reference."""


class StoreError(InputError):
    """The store cannot be opened or is of an unknown schema version."""


class GateFailed(LlmctlError):
    """A gate failed (quality, cost or latency regression, or a floor): exit 1."""

    exit_code = EXIT_GATE_FAILED


class InfraError(LlmctlError):
    """Provider failures left cases without results: exit 3."""

    exit_code = EXIT_INFRA


class StoreIOError(InfraError):
    """The store's disk failed a write or read (full, read-only, I/O error): exit 3.

    `run_id` is set once a run was under way, so the message can say how to resume it.
    """

    run_id: str | None = None


class StoreBusy(InfraError):
    """The store stayed locked or kept conflicting past the retry budget: exit 3 (it is there and
    readable, but other writers held it; trying again later can succeed)."""


class MultipleErrors(InputError):
    """Several input problems found at once (lint); each keeps its location."""

    def __init__(self, errors: list[LlmctlError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) found")

    def located(self) -> str:
        return "\n".join(e.located() for e in self.errors)
