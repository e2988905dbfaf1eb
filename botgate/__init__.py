"""botgate: a chat-platform bot gateway. `botgate.testing` holds the platform emulators and
the pytest plugin for testing bots offline."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("botgate")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"
