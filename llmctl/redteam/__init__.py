"""Offline red teaming: adversarial evalsets from a versioned attack corpus shipped in the package.

```python
from llmctl.redteam import generate

cases = generate(prompt, plugins=["injection", "system-leak"], n=20, seed=1)
print(cases.to_yaml())
```
"""

from __future__ import annotations

from llmctl.redteam._generate import (
    MAX_CASES,
    PLUGINS,
    Corpus,
    Redteam,
    RedteamCase,
    Template,
    generate,
    load_corpus,
    paraphrase,
    parse_plugins,
)

__all__ = [
    "MAX_CASES",
    "PLUGINS",
    "Corpus",
    "Redteam",
    "RedteamCase",
    "Template",
    "generate",
    "load_corpus",
    "paraphrase",
    "parse_plugins",
]
