"""Production traces: import them, monitor drift against a reference window, turn them into eval cases.

```python
from llmctl.traces import import_files, monitor, to_cases
counts = import_files(store, [Path("traces.jsonl")], fmt="auto")
report = monitor(cfg, store, window="7d", reference="28d")
```
See docs/traces.md. Importing this package is cheap: pyarrow, scipy and the evaluators
load inside the functions that need them.
"""

from __future__ import annotations

from llmctl.traces._import import FORMATS, TraceFormatError, detect_format, read_file

__all__ = ["FORMATS", "TraceFormatError", "detect_format", "import_files", "read_file"]


def import_files(store, paths, fmt: str = "auto", on_file=None):  # type: ignore[no-untyped-def]
    """Import each file in its own transaction; returns [(path, ImportCounts)].

    A bad line stops at that file (InputError with file:line); files before it stay imported,
    nothing of the bad file is.
    """
    from llmctl.store import import_traces

    done = []
    for path in paths:
        counts = import_traces(store, read_file(path, fmt))
        done.append((path, counts))
        if on_file is not None:
            on_file(path, counts)
    return done
