"""Typed Telegram updates: the part of the Bot API's `Update` botgate reads, validated.

Inbound updates are read with these models rather than python-telegram-bot's `de_json`, which
checks no types or ranges (a `date` of 10**20 overflowed deep inside it, a string where an
object belongs failed with an AttributeError). A wrong type, a missing object or an
out-of-range value is a PayloadError naming the field. Fields botgate does not read, and update
kinds it does not handle, are not checked: they stay in `raw` as Telegram sent them.
Attribute names follow the Bot API (and python-telegram-bot where Python needs another name:
`from_user`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from adapters.payload import LATEST_TIME, validate

INT64 = 2**63 - 1
MENTION, TEXT_MENTION = "mention", "text_mention"


def _unix_time(value: object) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("unix seconds (an integer) expected")
    if not 0 <= value <= LATEST_TIME:
        raise ValueError(f"unix seconds between 0 and {LATEST_TIME} expected")
    return datetime.fromtimestamp(value, UTC)


TelegramId = Annotated[int, Field(ge=-INT64, le=INT64)]
UnixTime = Annotated[datetime, BeforeValidator(_unix_time)]
Count = Annotated[int, Field(ge=0, le=2**53)]


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True)


class User(_Shape):
    id: TelegramId
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


class Chat(_Shape):
    id: TelegramId
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @property
    def effective_name(self) -> str | None:
        """As python-telegram-bot names a chat: its title, else its person's name, else @."""
        if self.title is not None:
            return self.title
        if self.first_name:
            return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name
        return self.username


class MessageEntity(_Shape):
    type: str
    offset: Count
    length: Count
    user: User | None = None


class File(_Shape):
    file_id: str
    file_name: str | None = None
    mime_type: str | None = None
    file_size: Count | None = None


class Sticker(File):
    emoji: str | None = None
    is_animated: bool = False
    is_video: bool = False


class Message(_Shape):
    message_id: TelegramId
    date: UnixTime
    chat: Chat
    from_user: User | None = Field(None, alias="from")
    sender_chat: Chat | None = None
    edit_date: UnixTime | None = None
    message_thread_id: TelegramId | None = None
    is_topic_message: bool | None = None
    reply_to_message: Message | None = None
    text: str | None = None
    caption: str | None = None
    entities: list[MessageEntity] = []
    caption_entities: list[MessageEntity] = []
    new_chat_members: list[User] = []
    left_chat_member: User | None = None
    photo: list[File] = []
    animation: File | None = None
    document: File | None = None
    audio: File | None = None
    video: File | None = None
    voice: File | None = None
    video_note: File | None = None
    sticker: Sticker | None = None

    def mentions(self, kinds: frozenset[str] = frozenset({MENTION, TEXT_MENTION})) -> dict[
        MessageEntity, str
    ]:
        """The entities of those kinds in the text (or caption) with the text they cover.
        Offsets count UTF-16 code units, as Telegram counts them."""
        text, entities = (
            (self.text, self.entities) if self.text else (self.caption or "", self.caption_entities)
        )
        units = text.encode("utf-16-le", "surrogatepass")
        return {
            entity: units[entity.offset * 2 : (entity.offset + entity.length) * 2].decode(
                "utf-16-le", "replace"
            )
            for entity in entities
            if entity.type in kinds
        }


class CallbackQuery(_Shape):
    id: str = Field(min_length=1)
    from_user: User = Field(alias="from")
    message: Message | None = None
    inline_message_id: str | None = None
    data: str | None = None
    game_short_name: str | None = None


class ChatMember(_Shape):
    user: User
    status: str
    is_member: bool | None = None


class ChatMemberUpdated(_Shape):
    chat: Chat
    from_user: User = Field(alias="from")
    date: UnixTime
    old_chat_member: ChatMember
    new_chat_member: ChatMember


class ReactionType(_Shape):
    type: str
    emoji: str | None = None
    custom_emoji_id: str | None = None


class MessageReactionUpdated(_Shape):
    chat: Chat
    message_id: TelegramId
    date: UnixTime
    user: User | None = None
    actor_chat: Chat | None = None
    old_reaction: list[ReactionType] = []
    new_reaction: list[ReactionType] = []


class Update(_Shape):
    update_id: Annotated[int, Field(ge=0, le=INT64)]
    message: Message | None = None
    edited_message: Message | None = None
    channel_post: Message | None = None
    edited_channel_post: Message | None = None
    callback_query: CallbackQuery | None = None
    message_reaction: MessageReactionUpdated | None = None
    my_chat_member: ChatMemberUpdated | None = None
    chat_member: ChatMemberUpdated | None = None


HANDLED = tuple(name for name in Update.model_fields if name != "update_id")


def read_update(raw: dict[str, Any]) -> Update:
    """The update's handled part, typed; kinds botgate does not handle are left unread."""
    handled = {key: raw[key] for key in ("update_id", *HANDLED) if key in raw}
    return validate(Update, handled, "not a Telegram update")
