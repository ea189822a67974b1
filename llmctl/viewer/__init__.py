"""`llmctl view`: a local web viewer over the store (Starlette + uvicorn, assets vendored here).

from llmctl.viewer import create_app
app = create_app(Store(path), project_root)   # an ASGI app
"""

from llmctl.viewer._app import CSP, create_app, serve

__all__ = ["CSP", "create_app", "serve"]
