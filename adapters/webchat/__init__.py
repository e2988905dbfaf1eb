"""The web chat platform: /chat/{bot} for visitors of a website, and its embeddable widget."""

from adapters.webchat.adapter import WebchatAdapter

__all__ = ["WebchatAdapter"]
