"""Importing litellm: once, on first use (it takes ~4 s), with its bundled cost map (no network
fetch) and its logs quiet. A leaf, so the cost table and the routing can import litellm without
importing the litellm transport."""

from __future__ import annotations

import os
import warnings
from types import ModuleType

_litellm: ModuleType | None = None


def import_litellm() -> ModuleType:
    """Import litellm once, with its bundled cost map (no network fetch) and quiet logs."""
    global _litellm
    if _litellm is None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        import litellm

        litellm.suppress_debug_info = True
        # third-party noise on first use, not actionable by llmctl users
        warnings.filterwarnings("ignore", module=r"litellm(\.|$)")
        warnings.filterwarnings("ignore", message=r".*`ReadOnly` qualifier", category=UserWarning)
        # an odd response shape (llmctl.models._response handles it) makes pydantic warn per call
        warnings.filterwarnings("ignore", message=r"Pydantic serializer warnings", category=UserWarning)
        litellm.telemetry = False
        _litellm = litellm
    return _litellm
