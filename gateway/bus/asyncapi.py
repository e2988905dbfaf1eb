"""The bus as an AsyncAPI 3 document (served at `/api/v1/asyncapi.json`): the exchanges and
their routing keys, the queues botgate declares, and the message schemas, generated from the
topology constants and the wire models so that it says what the code does."""

from __future__ import annotations

from typing import Any, get_args
from urllib.parse import unquote, urlsplit

from gateway.bus.topology import (
    ACTIONS_EXCHANGE,
    AUTOMATIONS_QUEUE,
    CORE_QUEUE,
    DEAD_EXCHANGE,
    DEAD_QUEUE,
    EVENTS_EXCHANGE,
    HEADER_ORIGIN_EXCHANGE,
    HEADER_REASON,
    HEADER_TRACEPARENT,
    SHARDS_EXCHANGE,
)
from gateway.events import EventType, Platform
from gateway.schemas import component_schemas

AMQP_BINDING_VERSION = "0.3.0"
TOOLS_EXCHANGE = "botgate.tools"
_SCHEMAS = "#/components/schemas/"


def asyncapi_document(bus_url: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "asyncapi": "3.1.0",
        "info": {
            "title": "botgate bus",
            "version": "1.0.0",
            "description": (
                "Chat events and the actions that answer them, on RabbitMQ topic exchanges. "
                "A service integrates by binding a queue of its own to botgate.events and by "
                "publishing actions to botgate.actions. Messages are persistent JSON with the "
                "event's or action's id as AMQP message_id; publishers wait for confirms."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "channels": _channels(),
        "operations": _operations(),
        "components": {
            "schemas": {**component_schemas(_SCHEMAS), **_header_schemas()},
            "messages": _messages(),
            "parameters": _parameters(),
        },
    }
    server = _server(bus_url)
    if server is not None:
        document["servers"] = {"rabbitmq": server}
    return document


def _server(bus_url: str) -> dict[str, Any] | None:
    """The configured broker, without credentials; none for the in-process bus."""
    parts = urlsplit(bus_url)
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        return None
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    return {
        "host": f"{parts.hostname}:{port}",
        "protocol": parts.scheme,
        "protocolVersion": "0.9.1",
        "pathname": "/" + unquote(parts.path.lstrip("/")),
        "description": "RabbitMQ (the `memory://` bus is the same topology inside one process)",
    }


def _exchange(name: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {"name": name, "type": "topic", "durable": True, "autoDelete": False},
            "bindingVersion": AMQP_BINDING_VERSION,
        }
    }


def _queue(name: str, durable: bool = True) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "queue",
            "queue": {"name": name, "durable": durable, "exclusive": False, "autoDelete": False},
            "bindingVersion": AMQP_BINDING_VERSION,
        }
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _channels() -> dict[str, Any]:
    event, action = _ref("messages", "event"), _ref("messages", "action")
    return {
        "events": {
            "address": "{platform}.{bot}.{type}",
            "title": EVENTS_EXCHANGE,
            "description": "Every event botgate accepted, and `message.sent` for each message "
            "a platform accepted from the bot. Bind a queue with a pattern such as "
            "`*.*.message.created` or `#`.",
            "parameters": {
                "platform": _ref("parameters", "platform"),
                "bot": _ref("parameters", "bot"),
                "type": _ref("parameters", "type"),
            },
            "messages": {"event": event},
            "bindings": _exchange(EVENTS_EXCHANGE),
        },
        "actions": {
            "address": "{platform}.{bot}",
            "title": ACTIONS_EXCHANGE,
            "description": "What a bot should do on a platform. botgate sends each action, "
            "records it and publishes the resulting `message.sent` event.",
            "parameters": {
                "platform": _ref("parameters", "platform"),
                "bot": _ref("parameters", "bot"),
            },
            "messages": {"action": action},
            "bindings": _exchange(ACTIONS_EXCHANGE),
        },
        "dead": {
            "address": "{routingKey}",
            "title": DEAD_EXCHANGE,
            "description": "What failed for good, as it was received, with the reason in the "
            f"header `{HEADER_REASON}` and the exchange it came from in "
            f"`{HEADER_ORIGIN_EXCHANGE}`.",
            "parameters": {"routingKey": _ref("parameters", "routingKey")},
            "messages": {
                "event": _ref("messages", "deadEvent"),
                "action": _ref("messages", "deadAction"),
            },
            "bindings": _exchange(DEAD_EXCHANGE),
        },
        "tools": {
            "address": "{tool}",
            "title": TOOLS_EXCHANGE,
            "description": "Calls of `bus` tools, by tool name. The service that bound a queue "
            "answers to the call's AMQP `reply_to`, with its `correlation_id`.",
            "parameters": {"tool": _ref("parameters", "tool")},
            "messages": {"toolCall": _ref("messages", "toolCall")},
            "bindings": _exchange(TOOLS_EXCHANGE),
        },
        "toolAnswers": {
            "address": None,
            "title": "a tool call's reply_to queue",
            "description": "Where a `bus` tool answers: the queue named by the call's `reply_to`.",
            "messages": {"toolAnswer": _ref("messages", "toolAnswer")},
        },
        "coreQueue": {
            "address": None,
            "title": f"{CORE_QUEUE}.{{shard}}",
            "description": f"The core's shard queues `{CORE_QUEUE}.0` ... (`[bus] shards`), fed "
            f"from botgate.events through the headers exchange `{SHARDS_EXCHANGE}` on the "
            "event's `botgate-shard` header (its conversation's shard); one core at a time "
            "consumes each, so a conversation is recorded and answered in order. Botgate's own.",
            "messages": {"event": event},
            "bindings": _queue(f"{CORE_QUEUE}.{{shard}}"),
        },
        "adapterQueue": {
            "address": "botgate.actions.{platform}.{bot}",
            "title": "botgate.actions.{platform}.{bot}",
            "description": "Quorum queue of one bot on one platform, bound to botgate.actions "
            "with `{platform}.{bot}`: its adapter sends the actions, one chat at a time.",
            "parameters": {
                "platform": _ref("parameters", "platform"),
                "bot": _ref("parameters", "bot"),
            },
            "messages": {"action": action},
            "bindings": _queue("botgate.actions.{platform}.{bot}"),
        },
        "automationsQueue": {
            "address": AUTOMATIONS_QUEUE,
            "title": AUTOMATIONS_QUEUE,
            "description": "Quorum queue bound to botgate.events with the patterns of the "
            "event automations (`[[automations]] event`).",
            "messages": {"event": event},
            "bindings": _queue(AUTOMATIONS_QUEUE),
        },
        "deadQueue": {
            "address": DEAD_QUEUE,
            "title": DEAD_QUEUE,
            "description": "Durable queue bound to botgate.dead with `#`, for inspection.",
            "messages": {
                "event": _ref("messages", "deadEvent"),
                "action": _ref("messages", "deadAction"),
            },
            "bindings": _queue(DEAD_QUEUE),
        },
    }


def _operation(
    action: str, channel: str, messages: list[str], summary: str, **more: Any
) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in messages],
        **more,
    }


def _operations() -> dict[str, Any]:
    send = {"bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": AMQP_BINDING_VERSION}}}
    receive = {"bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}}}
    return {
        "publishEvent": _operation(
            "send", "events", ["event"], "botgate publishes each event it accepted", **send
        ),
        "consumeEvents": _operation(
            "receive", "coreQueue", ["event"], "the core records and answers events", **receive
        ),
        "publishAction": _operation(
            "send",
            "actions",
            ["action"],
            "the core (and any service) asks a bot to act on a platform",
            **send,
        ),
        "sendActions": _operation(
            "receive",
            "adapterQueue",
            ["action"],
            "an adapter sends a bot's actions to its platform",
            **receive,
        ),
        "runAutomations": _operation(
            "receive",
            "automationsQueue",
            ["event"],
            "the core runs the automations an event fires",
            **receive,
        ),
        "deadLetter": _operation(
            "send", "dead", ["event", "action"], "what failed for good is set aside", **send
        ),
        "callTool": _operation(
            "send",
            "tools",
            ["toolCall"],
            "the core calls a `bus` tool and waits for its answer",
            reply={
                "address": {
                    "location": "$message.header#/reply_to",
                    "description": "the AMQP reply_to property of the call",
                },
                "channel": {"$ref": "#/channels/toolAnswers"},
                "messages": [{"$ref": "#/channels/toolAnswers/messages/toolAnswer"}],
            },
            **send,
        ),
    }


def _header_schemas() -> dict[str, Any]:
    traceparent = {
        "type": "string",
        "description": "W3C trace context, from the webhook to the platform send",
        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
    }
    return {
        "Headers": {"type": "object", "properties": {HEADER_TRACEPARENT: traceparent}},
        "DeadHeaders": {
            "type": "object",
            "properties": {
                HEADER_TRACEPARENT: traceparent,
                HEADER_REASON: {"type": "string", "description": "why it failed"},
                HEADER_ORIGIN_EXCHANGE: {"type": "string", "description": "where it came from"},
            },
            "required": [HEADER_REASON, HEADER_ORIGIN_EXCHANGE],
        },
        "ToolCallHeaders": {
            "type": "object",
            "properties": {
                "reply_to": {"type": "string", "description": "AMQP property: answer here"},
                "correlation_id": {"type": "string", "description": "AMQP property: echo it"},
            },
        },
    }


def _message(
    name: str, title: str, payload: str, headers: str = "Headers", **more: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "contentType": "application/json",
        "headers": {"$ref": _SCHEMAS + headers},
        "payload": {"$ref": _SCHEMAS + payload},
        "bindings": {"amqp": {"messageType": name, "bindingVersion": AMQP_BINDING_VERSION}},
        **more,
    }


def _messages() -> dict[str, Any]:
    return {
        "event": _message("botgate.event/1", "An event", "Event"),
        "action": _message("botgate.action/1", "An action", "Action"),
        "deadEvent": _message("botgate.event/1", "A dead event", "Event", "DeadHeaders"),
        "deadAction": _message("botgate.action/1", "A dead action", "Action", "DeadHeaders"),
        "toolCall": _message(
            "botgate.tool_call/1",
            "A tool call",
            "ToolCall",
            "ToolCallHeaders",
            correlationId={"location": "$message.header#/correlation_id"},
        ),
        "toolAnswer": _message("botgate.tool_answer", "A tool's answer", "ToolAnswer"),
    }


def _parameters() -> dict[str, Any]:
    return {
        "platform": {"enum": list(get_args(Platform)), "description": "the chat platform"},
        "bot": {"description": "the bot's name, [a-z0-9_-]{1,64}"},
        "type": {"enum": list(get_args(EventType)), "description": "the event type"},
        "tool": {"description": "the tool's name"},
        "routingKey": {"description": "the routing key the message had"},
    }
