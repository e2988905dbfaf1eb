"""Quiet aio-pika and aiormq while they reconnect: the bus says it in one line instead.

When the connection to RabbitMQ drops, aiormq logs the reader's end with a traceback (or the
broker's Connection.Close at ERROR), aio-pika logs an ERROR for every channel callback that
found its channel closed, and a WARNING for every reconnect attempt: a dozen lines for one
outage, and one more per attempt for as long as it lasts. `AmqpBus` reports the outage itself
through its `Outage` (gateway/outage.py): one WARNING when the connection is lost, one INFO
when it is back. This filter drops exactly those library records; anything else they log
(a blocked connection, an unexpected frame, a callback failing for another reason) still shows.
"""

from __future__ import annotations

import logging

# The names (class names, as aio-pika prints them) of what a channel callback raises when it
# runs on a connection that has gone.
_GONE = frozenset({
    "AMQPConnectionError", "ChannelInvalidStateError", "ConnectionClosed", "ChannelClosed",
    "ConnectionResetError", "ConnectionRefusedError", "IncompleteReadError", "CancelledError",
})  # fmt: skip
_RECONNECT_MESSAGES = {
    "aiormq.connection": ("Cancelling cause reader exited abnormally",
                          "Unexpected connection close from remote",
                          "Server connection %r was stuck"),
    "aio_pika.robust_connection": ("Connection attempt to", "Reconnect attempt failed"),
}  # fmt: skip


class ReconnectNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        prefixes = _RECONNECT_MESSAGES.get(record.name, ())
        if isinstance(record.msg, str) and record.msg.startswith(prefixes):
            return False
        return not (record.name == "aio_pika.tools" and _callback_on_closed(record))


def _callback_on_closed(record: logging.LogRecord) -> bool:
    """aio-pika's "Callback %r error: %s: %s" for a callback that met a closed connection."""
    args = record.args
    if not isinstance(args, tuple) or len(args) != 3 or not str(record.msg).startswith("Callback"):
        return False
    kind, text = str(args[1]), str(args[2])
    return kind in _GONE or (kind == "RuntimeError" and "closed" in text)


_FILTER = ReconnectNoiseFilter()


def quiet_reconnects() -> None:
    """Install the filter on the loggers that speak during a reconnect (once per process)."""
    for name in ("aiormq.connection", "aio_pika.robust_connection", "aio_pika.tools"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
