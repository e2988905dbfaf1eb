"""The operators' web console at `/console`: sign in with an API token, then see health,
bots, conversations (live), people, the knowledge base, tools and dead letters.

Server-rendered HTML (Jinja2, autoescaped) with htmx, vendored in `static/`, for the live
parts; no build step. Scopes are the admin API's: `read` sees everything, `write` imports
knowledge-base files, `admin` re-drives dead letters; the server checks them on every request.
"""

from gateway.console.routes import add_console
from gateway.console.state import ConsoleDeps

__all__ = ["ConsoleDeps", "add_console"]
