"""botgate: a chat-platform bot gateway with an event bus."""

__version__ = "0.1.0"
