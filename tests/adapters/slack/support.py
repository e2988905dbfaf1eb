"""Builders for the Slack adapter tests: recorded payloads varied, and signed requests."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from adapters.base import InboundRequest
from botgate.testing.slack import sign
from gateway.config import Settings, settings_from_dict
from gateway.events import utcnow

PAYLOADS = Path(__file__).parents[2] / "payloads" / "slack"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_USER_ID = "U0BOTGATE"


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def callback(name: str, *, event_id: str | None = None, **event: Any) -> dict[str, Any]:
    """A recorded `event_callback`, its inner event's fields replaced by `event`."""
    envelope = load(name)
    envelope["event"].update(event)
    if event_id is not None:
        envelope["event_id"] = event_id
    return envelope


def inner(name: str, **event: Any) -> dict[str, Any]:
    return copy.deepcopy(callback(name, **event)["event"])


def settings_for(api_url: str, **slack: Any) -> Settings:
    config = {
        "bot_token": "xoxb-emulator-token",
        "signing_secret": SIGNING_SECRET,
        "api_base_url": api_url,
        "send_interval": 0,
        **slack,
    }
    return settings_from_dict({"bots": [{"name": "helpdesk", "slack": config}]})


def signed(
    body: bytes,
    content_type: str = "application/json",
    *,
    age: float = 0,
    secret: str = SIGNING_SECRET,
    headers: Mapping[str, str] | None = None,
) -> InboundRequest:
    """An InboundRequest signed as Slack signs it, `age` seconds ago."""
    timestamp = str(int(time.time() - age))
    all_headers = {
        "content-type": content_type,
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": sign(secret, timestamp, body),
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    return InboundRequest("slack", "helpdesk", "POST", all_headers, {}, body, utcnow())


def json_request(payload: Mapping[str, Any], **headers: str) -> InboundRequest:
    return signed(json.dumps(payload).encode(), headers=headers)


def form_request(fields: Mapping[str, str]) -> InboundRequest:
    return signed(urlencode(fields).encode(), "application/x-www-form-urlencoded")
