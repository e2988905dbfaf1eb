"""Gateway dispatches (op 0 payloads, as Discord sent them) -> events.

De-duplication keys: messages by their id (`message:{id}`, edits by id and edit time, deletes
by id); a member joining by guild, user and join time; the bot joining a guild by guild and
join time. Reactions, members leaving and the bot leaving carry no id of their own and may
repeat with the same fields (add, remove, add again), so their key is the dispatch's own
delivery identity, `gateway:{session_id}:{seq}`: Discord replays a dispatch after RESUME with
the same session and sequence number, and never replays into a new session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.discord.normalize import (
    Json,
    build_event,
    channel_type,
    message_body,
    parse_time,
    snowflake_time,
    user_ref,
)
from gateway.events import ChannelRef, Event, MessageBody, Reaction, UserRef

GUILD_SCOPE = "group"  # member and guild events happen in a guild, not in one of its channels
GUILD_RAW_OMIT = frozenset(
    {
        "members",
        "presences",
        "voice_states",
        "channels",
        "threads",
        "emojis",
        "stickers",
        "roles",
        "guild_scheduled_events",
    }
)


@dataclass(frozen=True)
class Dispatch:
    """One op 0 payload of a gateway session."""

    name: str
    seq: int
    data: Json
    session_id: str


@dataclass(frozen=True)
class ChannelInfo:
    type: int
    name: str | None


class Directory(Protocol):
    """What the gateway client's cache knows about guilds and channels."""

    def channel_info(self, guild_id: str, channel_id: str) -> ChannelInfo | None: ...

    def guild_name(self, guild_id: str) -> str | None: ...


class DispatchNormalizer:
    """Turns one bot's dispatches into events; unknown or uninteresting dispatches give none."""

    def __init__(
        self, bot: str, bot_user_id: str, bot_username: str | None, directory: Directory
    ) -> None:
        self.bot = bot
        self.bot_user_id = bot_user_id
        self.bot_username = bot_username
        self.directory = directory
        self._handlers: dict[str, Callable[[Dispatch], list[Event]]] = {
            "MESSAGE_CREATE": self._message_created,
            "MESSAGE_UPDATE": self._message_updated,
            "MESSAGE_DELETE": self._message_deleted,
            "MESSAGE_DELETE_BULK": self._messages_deleted,
            "MESSAGE_REACTION_ADD": self._reaction,
            "MESSAGE_REACTION_REMOVE": self._reaction,
            "GUILD_MEMBER_ADD": self._member_joined,
            "GUILD_MEMBER_REMOVE": self._member_left,
            "GUILD_CREATE": self._bot_added,
            "GUILD_DELETE": self._bot_removed,
        }

    def events(self, dispatch: Dispatch) -> list[Event]:
        handler = self._handlers.get(dispatch.name)
        return handler(dispatch) if handler else []

    # messages

    def _message_created(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        if self._is_own(data.get("author")):
            return []  # recorded as message.sent when the bot sent it
        return [self._message_event("message.created", f"message:{data['id']}", data)]

    def _message_updated(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        edited = data.get("edited_timestamp")
        if self._is_own(data.get("author")) or not edited or "content" not in data:
            return []  # embed unfurls and other updates that are not an edit of the text
        return [self._message_event("message.updated", f"message:{data['id']}:edit:{edited}", data)]

    def _message_event(self, kind: Any, dedupe: str, data: Json) -> Event:
        return build_event(
            kind,
            self.bot,
            dedupe,
            self._channel(data.get("guild_id"), str(data["channel_id"])),
            data,
            occurred_at=parse_time(data.get("edited_timestamp")) or snowflake_time(str(data["id"])),
            user=user_ref(data["author"], data.get("member")),
            message=message_body(data, self.bot_user_id, self.bot_username),
        )

    def _message_deleted(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        return [self._deleted(data, str(data["id"]))]

    def _messages_deleted(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        return [self._deleted(data, str(message_id)) for message_id in data.get("ids", [])]

    def _deleted(self, data: Json, message_id: str) -> Event:
        return build_event(
            "message.deleted",
            self.bot,
            f"message:{message_id}:deleted",
            self._channel(data.get("guild_id"), str(data["channel_id"])),
            data,
            message=MessageBody(id=message_id),
        )

    # reactions

    def _reaction(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        if str(data["user_id"]) == self.bot_user_id:
            return []
        member = data.get("member")
        user = (
            user_ref(member["user"], member)
            if member and "user" in member
            else UserRef(id=str(data["user_id"]))
        )
        added = dispatch.name == "MESSAGE_REACTION_ADD"
        return [
            build_event(
                "reaction.added" if added else "reaction.removed",
                self.bot,
                self._delivery(dispatch),
                self._channel(data.get("guild_id"), str(data["channel_id"])),
                data,
                user=user,
                reaction=Reaction(
                    emoji=emoji_text(data["emoji"]), message_id=str(data["message_id"])
                ),
            )
        ]

    # members and guilds

    def _member_joined(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        user = data["user"]
        if self._is_own(user):
            return []
        dedupe = f"member:{data['guild_id']}:{user['id']}:joined:{data.get('joined_at')}"
        return [
            self._guild_event(
                "member.joined",
                dedupe,
                str(data["guild_id"]),
                data,
                user=user_ref(user, data),
                occurred_at=parse_time(data.get("joined_at")),
            )
        ]

    def _member_left(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        if self._is_own(data["user"]):
            return []
        return [
            self._guild_event(
                "member.left",
                self._delivery(dispatch),
                str(data["guild_id"]),
                data,
                user=user_ref(data["user"]),
            )
        ]

    def _bot_added(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        if "unavailable" in data:
            return []  # a known guild becoming available (on connect, after an outage)
        raw = {key: value for key, value in data.items() if key not in GUILD_RAW_OMIT}
        dedupe = f"guild:{data['id']}:added:{data.get('joined_at')}"
        return [
            self._guild_event(
                "bot.added",
                dedupe,
                str(data["id"]),
                raw,
                name=data.get("name"),
                occurred_at=parse_time(data.get("joined_at")),
            )
        ]

    def _bot_removed(self, dispatch: Dispatch) -> list[Event]:
        data = dispatch.data
        if data.get("unavailable"):
            return []  # an outage, not a removal
        return [self._guild_event("bot.removed", self._delivery(dispatch), str(data["id"]), data)]

    def _guild_event(
        self,
        kind: Any,
        dedupe: str,
        guild_id: str,
        raw: Json,
        name: str | None = None,
        **fields: Any,
    ) -> Event:
        channel = ChannelRef(
            id=guild_id, type=GUILD_SCOPE, name=name or self.directory.guild_name(guild_id)
        )
        return build_event(kind, self.bot, dedupe, channel, raw, **fields)

    # helpers

    def _channel(self, guild_id: Any, channel_id: str) -> ChannelRef:
        if guild_id is None:
            return ChannelRef(id=channel_id, type="direct")
        info = self.directory.channel_info(str(guild_id), channel_id)
        kind = info.type if info else None
        return ChannelRef(
            id=channel_id, type=channel_type(kind, True), name=info.name if info else None
        )

    def _is_own(self, user: Json | None) -> bool:
        return user is not None and str(user.get("id")) == self.bot_user_id

    @staticmethod
    def _delivery(dispatch: Dispatch) -> str:
        return f"gateway:{dispatch.session_id}:{dispatch.seq}"


def emoji_text(emoji: Json) -> str:
    """A unicode emoji as itself, a custom one as `name:id` (the form Discord's REST takes)."""
    if emoji.get("id"):
        return f"{emoji.get('name')}:{emoji['id']}"
    return str(emoji.get("name"))
