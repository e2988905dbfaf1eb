"""Hostile requests for every inbound route and the admin API, and a raw HTTP sender.

One generator serves the Hypothesis suite (which drives it with its own `Random`) and the
`botgate fuzz` script. Three kinds of request per route:
- `unsigned`: garbage or missing credentials (any bytes in headers, absurd timestamps, repeated
  headers, over-long values), with a body that is garbage or a real payload: 401 (404 on an
  unknown path, 413 when too big, 400 when aiohttp refuses the HTTP itself);
- `signed`: correctly signed payloads with hostile content (wrong types, missing objects,
  huge numbers, deep nesting, NUL characters, lone surrogates, over-long ids and names): a
  2xx (recorded and answered) or a 400;
- `admin`: the admin API with and without its token, and hostile query values.
The sender writes bytes to a socket, so nothing on the client side cleans a header.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

Json = Any
ROUTES = ("telegram", "slack", "discord", "generic", "admin")
ACCEPTABLE = frozenset({200, 202, 400, 401, 404, 413, 429})
# `?wait=N` answers 504 when the core has not answered within N seconds: the event was
# accepted and is answered later, so under load it is a correct answer, not a fault.
WAIT_TIMED_OUT = 504

_DEEP = "@@deep@@"


@dataclass(frozen=True)
class Keys:
    """What the target gateway is configured with: one bot on every platform."""

    bot: str
    generic_secret: str
    telegram_secret: str
    slack_secret: str
    discord_key: Ed25519PrivateKey
    admin_token: str


@dataclass(frozen=True)
class RawRequest:
    route: str
    kind: str
    method: str
    path: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def acceptable(request: RawRequest, status: int) -> bool:
    """Whether `status` is a correct answer to `request` (never a server fault)."""
    waited = b"wait=" in request.path
    return status in ACCEPTABLE or (waited and status == WAIT_TIMED_OUT)


def hostile_request(rng: random.Random, route: str, keys: Keys) -> RawRequest:
    if route == "admin":
        return _admin(rng, keys)
    if rng.random() < 0.02:
        return _unknown_path(rng, route, keys)
    if rng.random() < 0.4:
        return _unsigned(rng, route, keys)
    return _signed(rng, route, keys)


def valid_request(rng: random.Random, route: str, keys: Keys) -> RawRequest:
    """A correctly signed request that carries an event (no PING, no url_verification)."""
    payload: Json
    if route == "telegram":
        payload = {"update_id": rng.randrange(10**9), "message": _tg_message(rng)}
    elif route == "slack":
        payload = _slack_event(rng)
    elif route == "discord":
        payload = {**_discord(rng), "type": 3, "data": {"custom_id": "more"},
                   "user": {"id": "80351110224678912", "username": "a"}}
    else:
        payload = _generic(rng)
    body = json.dumps(payload).encode()
    headers = [*_credentials(route, keys, body, str(int(time.time()))),
               (b"Content-Type", b"application/json")]
    return RawRequest(route, "valid", "POST", f"/webhooks/{route}/{keys.bot}".encode(),
                      tuple(headers), body)


# signed: the credentials are right, the content is hostile


def _signed(rng: random.Random, route: str, keys: Keys) -> RawRequest:
    form = route == "slack" and rng.random() < 0.3
    if form:
        body = _slack_form(rng)
    else:
        payload = _mutated(rng, rng.choice(_SEEDS[route])(rng))
        body = _to_json(payload, rng)
    if rng.random() < 0.005:
        body = body + b" " * (1024 * 1024)  # over the size limit, signed
    headers = _credentials(route, keys, body, str(int(time.time())))
    if form:
        headers.append((b"Content-Type", b"application/x-www-form-urlencoded"))
    else:
        headers.append((b"Content-Type", b"application/json"))
    path = f"/webhooks/{route}/{keys.bot}"
    if route == "generic" and rng.random() < 0.3:
        path += "?wait=1"
    return RawRequest(route, "signed", "POST", path.encode(), tuple(headers), body)


def _credentials(route: str, keys: Keys, body: bytes, ts: str) -> list[tuple[bytes, bytes]]:
    if route == "telegram":
        return [(b"X-Telegram-Bot-Api-Secret-Token", keys.telegram_secret.encode())]
    if route == "slack":
        mac = hmac.new(keys.slack_secret.encode(), b"v0:" + ts.encode() + b":" + body, "sha256")
        return [(b"X-Slack-Request-Timestamp", ts.encode()),
                (b"X-Slack-Signature", f"v0={mac.hexdigest()}".encode())]
    if route == "discord":
        signature = keys.discord_key.sign(ts.encode() + body).hex()
        return [(b"X-Signature-Timestamp", ts.encode()),
                (b"X-Signature-Ed25519", signature.encode())]
    mac = hmac.new(keys.generic_secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
    return [(b"X-Botgate-Timestamp", ts.encode()),
            (b"X-Botgate-Signature", f"sha256={mac.hexdigest()}".encode())]


# unsigned: the credentials are wrong or absurd


def _unsigned(rng: random.Random, route: str, keys: Keys) -> RawRequest:
    body = _garbage(rng) if rng.random() < 0.5 else _to_json(rng.choice(_SEEDS[route])(rng), rng)
    ts = rng.choice([str(int(time.time())), _absurd_timestamp(rng)])
    headers = _credentials(route, keys, body, ts)
    if rng.random() < 0.7:  # spoil what is there
        headers = [(name, _hostile_header(rng, value)) for name, value in headers]
    if rng.random() < 0.3 and headers:
        headers.append(rng.choice(headers))  # a repeated header
    if rng.random() < 0.2 and headers:
        headers.pop(rng.randrange(len(headers)))
    path = f"/webhooks/{route}/{keys.bot}".encode()
    return RawRequest(route, "unsigned", "POST", path, tuple(headers), body)


def _absurd_timestamp(rng: random.Random) -> str:
    return rng.choice([
        "9" * rng.choice([13, 400, 5000]), "-1", "0", " 1", "1e9", "١٢٣", "nan", "",
        str(int(time.time()) - 10**6), str(int(time.time())) + "\u00a0",
    ])


def _hostile_header(rng: random.Random, value: bytes) -> bytes:
    choice = rng.randrange(7)
    if choice == 0:
        return bytes(rng.randrange(128, 256) for _ in range(rng.randrange(1, 40)))
    if choice == 1:
        return "é✓😀".encode() + value
    if choice == 2:
        return b""
    if choice == 3:
        return value * rng.choice([10, 100])
    if choice == 4:
        return value[: rng.randrange(len(value) + 1)]
    if choice == 5:
        return b"\xff" + value
    return value[::-1]


def _unknown_path(rng: random.Random, route: str, keys: Keys) -> RawRequest:
    platform = rng.choice([route, "x" * rng.randrange(1, 300), "%ff%fe", "telegram"])
    bot = rng.choice([f"nobody{rng.randrange(10**9)}", "%00", "%ed%a0%80", "é" * 50])
    path = f"/webhooks/{platform}/{bot}".encode()
    return RawRequest(route, "unknown", "POST", path, (), b"{}")


# the admin API


def _admin(rng: random.Random, keys: Keys) -> RawRequest:
    token = keys.admin_token.encode()
    auth = rng.choice([
        b"Bearer " + token, b"Bearer " + token, b"bearer " + token, token, b"Bearer",
        b"Basic " + token, b"Bearer \xff\xfe", b"Bearer " + token + b"x", b"",
    ])
    headers: list[tuple[bytes, bytes]] = [(b"Authorization", auth)] if auth else []
    which = rng.randrange(4)
    if which == 0:
        return RawRequest("admin", "admin", "GET", b"/api/v1/bots", tuple(headers), b"")
    if which == 1:
        query = {k: _hostile_text(rng) for k in rng.sample(["limit", "channel", "platform"], 2)}
        if rng.random() < 0.5:
            query["limit"] = rng.choice(["1", "200", "201", "0", "-1", "50", "9" * 30, "1e3", ""])
        path = b"/api/v1/messages?" + urlencode(query, encoding="utf-8",
                                               errors="surrogatepass").encode()
        return RawRequest("admin", "admin", "GET", path, tuple(headers), b"")
    if which == 2:
        return RawRequest("admin", "admin", "GET", b"/api/v1/openapi.json", (), b"")
    action = _mutated(rng, {"schema": "botgate.action/1", "type": "message.send",
                            "platform": "generic", "bot": keys.bot, "channel_id": "room-1",
                            "text": "hello"})
    headers.append((b"Content-Type", b"application/json"))
    return RawRequest("admin", "admin", "POST", b"/api/v1/actions", tuple(headers),
                      _to_json(action, rng))


# hostile values


def _hostile_text(rng: random.Random) -> str:
    return rng.choice([
        "", "a\x00b", "\ud800", "\udfff lone", "😀" * rng.randrange(1, 5), "x" * rng.choice(
            [255, 256, 257, 300, 5000]), "é", "\u202e", "\r\n", "'; DROP TABLE messages; --",
        "%00", str(rng.randrange(10**6)),
    ])


def _hostile_value(rng: random.Random) -> Json:
    choice = rng.randrange(12)
    if choice == 0:
        return rng.choice([10**18, 2**63, 2**64, -(2**63) - 1, 10**30, -1, 10**400])
    if choice == 1:
        return rng.choice([0.5, -1e308, 1e308, 1.0])
    if choice == 2:
        return rng.choice([True, False, None])
    if choice in (3, 4, 5):
        return _hostile_text(rng)
    if choice == 6:
        return []
    if choice == 7:
        return {}
    if choice == 8:
        return _DEEP + str(rng.choice([10, 63, 64, 65, 200, 1100]))
    if choice == 9:
        return [_hostile_text(rng)]
    if choice == 10:
        return {"id": _hostile_text(rng)}
    return rng.randrange(-5, 10**10)


def _mutated(rng: random.Random, payload: Json) -> Json:
    """The payload with one to three hostile changes (or none, one time in ten)."""
    payload = copy.deepcopy(payload)
    if rng.random() < 0.1:
        return payload
    for _ in range(rng.randint(1, 3)):
        paths = list(_paths(payload, ()))
        if not paths:
            return _hostile_value(rng)
        path = rng.choice(paths)
        payload = _changed(rng, payload, path)
    return payload


def _paths(value: Json, prefix: tuple[Any, ...]) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _changed(rng: random.Random, payload: Json, path: tuple[Any, ...]) -> Json:
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if isinstance(parent, dict) and rng.random() < 0.25:
        del parent[last]
    else:
        parent[last] = _hostile_value(rng)
    return payload


def _to_json(payload: Json, rng: random.Random) -> bytes:
    """JSON as a client could write it: lone surrogates and NUL as \\u escapes."""
    text = json.dumps(payload, ensure_ascii=rng.random() < 0.7)
    while _DEEP in text:
        start = text.index('"' + _DEEP)
        end = text.index('"', start + 1)
        depth = int(text[start + 1 + len(_DEEP) : end])
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1 :]
    return text.encode("utf-8", "surrogatepass")


def _garbage(rng: random.Random) -> bytes:
    return rng.choice([
        b"", b"not json", b"[]", b"null", b"{", b"\xff\xfe\x00", b"{}" * 10,
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
    ])


# seeds: one of each payload kind a route maps


def _now() -> int:
    return int(time.time())


def _tg_user(rng: random.Random) -> Json:
    return {"id": rng.randrange(1, 10**10), "is_bot": False, "first_name": "Alice",
            "last_name": "L", "username": "alice", "language_code": "en"}


def _tg_chat(rng: random.Random) -> Json:
    if rng.random() < 0.5:
        return {"id": rng.randrange(1, 10**10), "type": "private", "first_name": "Alice"}
    return {"id": -rng.randrange(10**12, 10**13), "type": "supergroup", "title": "Support"}


def _tg_message(rng: random.Random) -> Json:
    return {"message_id": rng.randrange(1, 10**6), "date": _now(), "chat": _tg_chat(rng),
            "from": _tg_user(rng), "text": "/help me @botgate_test_bot",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5},
                         {"type": "mention", "offset": 9, "length": 17}]}


def _telegram(rng: random.Random) -> Json:
    update_id = rng.randrange(10**9)
    kind = rng.randrange(6)
    if kind == 0:
        return {"update_id": update_id, "message": _tg_message(rng)}
    if kind == 1:
        edited = {**_tg_message(rng), "edit_date": _now()}
        return {"update_id": update_id, "edited_message": edited}
    if kind == 2:
        return {"update_id": update_id, "callback_query": {
            "id": str(rng.randrange(10**12)), "from": _tg_user(rng), "chat_instance": "1",
            "message": _tg_message(rng), "data": "more"}}
    if kind == 3:
        return {"update_id": update_id, "message_reaction": {
            "chat": _tg_chat(rng), "message_id": 9, "user": _tg_user(rng), "date": _now(),
            "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}}
    if kind == 4:
        member = {"user": _tg_user(rng), "status": "member"}
        return {"update_id": update_id, "my_chat_member": {
            "chat": _tg_chat(rng), "from": _tg_user(rng), "date": _now(),
            "old_chat_member": {**member, "status": "left"}, "new_chat_member": member}}
    photo = {**_tg_message(rng), "photo": [{"file_id": "p1", "file_unique_id": "u",
                                            "width": 1, "height": 1, "file_size": 10}],
             "caption": "look"}
    photo.pop("text")
    return {"update_id": update_id, "channel_post": photo}


def _slack_event(rng: random.Random) -> Json:
    channel = rng.choice(["D024BE91L", "C024BE91L"])
    ts = f"{_now()}.{rng.randrange(10**6):06d}"
    events = [
        {"type": "message", "channel": channel, "user": "U2147483697", "text": "hello <@UBOT>",
         "ts": ts, "channel_type": "im" if channel[0] == "D" else "channel"},
        {"type": "app_mention", "channel": channel, "user": "U2147483697",
         "text": "<@UBOT> /help", "ts": ts, "thread_ts": "1482960137.003543"},
        {"type": "reaction_added", "user": "U2147483697", "reaction": "thumbsup",
         "item": {"type": "message", "channel": channel, "ts": ts}},
        {"type": "member_joined_channel", "user": "U2147483697", "channel": channel},
        {"type": "message", "subtype": "message_changed", "channel": channel,
         "message": {"user": "U2147483697", "text": "edited", "ts": ts}},
        {"type": "message", "subtype": "message_deleted", "channel": channel, "deleted_ts": ts},
        {"type": "message", "channel": channel, "user": "U2147483697", "text": "file", "ts": ts,
         "files": [{"id": "F1", "name": "a.png", "mimetype": "image/png", "size": 12}]},
    ]
    return {"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": f"Ev{rng.randrange(10**12)}", "event_time": _now(),
            "authorizations": [{"is_bot": True, "user_id": "UBOT"}],
            "event": rng.choice(events)}


def _slack(rng: random.Random) -> Json:
    if rng.random() < 0.1:
        return {"type": "url_verification", "challenge": "abc", "token": "x"}
    return _slack_event(rng)


def _slack_form(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        fields: Json = {"command": "/help", "text": "me", "trigger_id": f"t{rng.randrange(10**9)}",
                        "channel_id": "D024BE91L", "user_id": "U2147483697",
                        "user_name": "alice", "channel_name": "directmessage"}
        fields = _mutated(rng, fields)
        if not isinstance(fields, dict):
            fields = {"command": fields}
        pairs = [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()]
        return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()
    actions = {"type": "block_actions", "trigger_id": f"t{rng.randrange(10**9)}",
               "user": {"id": "U2147483697", "username": "alice"},
               "channel": {"id": "D024BE91L", "name": "directmessage"},
               "container": {"channel_id": "D024BE91L", "message_ts": "1.2"},
               "message": {"ts": "1.2"},
               "actions": [{"action_id": "more", "value": "1", "action_ts": "1.3"}]}
    payload = _to_json(_mutated(rng, actions), rng)
    return b"payload=" + quote_from_bytes(payload).encode()


def _discord(rng: random.Random) -> Json:
    interaction_id = str(((_now() * 1000 - 1420070400000) << 22) + rng.randrange(4096))
    user = {"id": "80351110224678912", "username": "alice", "global_name": "Alice"}
    base: Json = {"id": interaction_id, "application_id": "1", "token": "tok", "version": 1,
                  "channel_id": "41771983423143937", "locale": "en-US"}
    kind = rng.randrange(4)
    if kind == 0:
        return {"type": 1, "id": interaction_id, "application_id": "1", "token": "t"}
    if kind == 1:
        return {**base, "type": 2, "user": user, "channel": {"id": "41771983423143937", "type": 1},
                "data": {"name": "help", "options": [{"type": 3, "name": "q", "value": "x"}]}}
    if kind == 2:
        return {**base, "type": 2, "guild_id": "1", "member": {"user": user, "nick": "al"},
                "data": {"name": "tag", "options": [
                    {"type": 1, "name": "add", "options": [{"type": 3, "name": "n", "value": 1}]}
                ]}}
    return {**base, "type": 3, "user": user, "message": {"id": "5"},
            "data": {"custom_id": "more", "component_type": 2, "values": ["a", "b"]}}


def _generic(rng: random.Random) -> Json:
    payload: Json = {"user": {"id": f"u-{rng.randrange(100)}", "name": "alice"},
                     "channel": {"id": f"room-{rng.randrange(100)}", "type": "direct"},
                     "text": rng.choice(["/help", "hello", "@bot hi"])}
    if rng.random() < 0.5:
        payload["event_id"] = f"ev-{rng.randrange(10**12)}"
    if rng.random() < 0.3:
        payload["thread_id"] = "t-1"
    return payload


_SEEDS = {
    "telegram": [_telegram],
    "slack": [_slack],
    "discord": [_discord],
    "generic": [_generic],
}


# sending


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


async def send(host: str, port: int, request: RawRequest, timeout: float = 30) -> Answer:
    """One request on its own connection, bytes as given; the status and body."""
    head = [request.method.encode() + b" " + request.path + b" HTTP/1.1",
            f"Host: {host}:{port}".encode(), b"Connection: close",
            f"Content-Length: {len(request.body)}".encode()]
    head += [name + b": " + value for name, value in request.headers]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + request.body)
        async with asyncio.timeout(timeout):
            await writer.drain()
            raw = await reader.read(-1)
    except ConnectionResetError:
        raw = b""  # the server closed the connection on a request it would not read
    finally:
        writer.close()
    return _answer(raw)


def _answer(raw: bytes) -> Answer:
    if not raw:
        return Answer(0, b"")
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    return Answer(int(status_line[1]) if len(status_line) > 1 else 0, body)
