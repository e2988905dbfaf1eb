"""The Bot API methods the Telegram emulator serves, on the state it keeps (chats, messages,
files, commands), each refusing what Telegram refuses with Telegram's own 400/403 text."""

from __future__ import annotations

import functools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from botgate.testing.telegram_media import GROUP_KINDS, MEDIA_METHODS, FileStore, Upload
from botgate.testing.telegram_text import (
    ApiError,
    bad,
    formatted_caption,
    formatted_text,
)

Json = dict[str, Any]
MAX_CALLBACK_DATA = 64
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
})
# The emoji Telegram accepts as reactions (ReactionTypeEmoji).
_REACTION_EMOJI = (
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 "
    "👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 "
    "🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 "
    "😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 "
    "💊 🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡"
)
REACTIONS = frozenset(_REACTION_EMOJI.split())
_COMMAND_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class BotApiMethods:
    """The methods; `TelegramEmulator` holds the state they work on."""

    bot_user: Json
    chats: dict[int, Json]
    messages: dict[tuple[int, int], Json]
    deleted: set[tuple[int, int]]
    reactions: dict[tuple[int, int], list[Json]]
    answered: dict[str, Json]
    store: FileStore
    _queries: set[str]
    _blocked: set[int]
    _missing: set[int]
    commands: dict[str, list[Json]]
    _message_ids: defaultdict[int, int]
    _media_groups: int
    drafts: dict[int, list[Json]]

    def _methods(self) -> dict[str, Callable[[Json], Any]]:
        """Handlers by lower-case method name (getUpdates and the webhook methods aside)."""
        methods: dict[str, Callable[[Json], Any]] = {
            "getme": lambda params: self.bot_user,
            "sendmessage": self._send_message,
            "sendmessagedraft": self._send_message_draft,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            "setmessagereaction": self._set_message_reaction,
            "getfile": self._get_file,
            "sendmediagroup": self._send_media_group,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
        }
        for method, kind in MEDIA_METHODS.items():
            methods[method] = functools.partial(self._send_media, kind)
        return methods

    # chats and messages

    def _chat(self, chat_id: Any) -> Json:
        if chat_id in (None, ""):
            raise bad("chat_id is empty")
        try:
            number = int(chat_id)
        except (TypeError, ValueError):
            raise bad("chat not found") from None
        if number in self._missing:
            raise bad("chat not found")
        if number in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return self.chats.get(number) or guess_chat(number)

    def _new_message(self, chat: Json, params: Json) -> Json:
        self._message_ids[chat["id"]] += 1
        message: Json = {
            "message_id": self._message_ids[chat["id"]],
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        self._thread(message, params.get("message_thread_id"))
        self._reply(message, params.get("reply_parameters"), params.get("reply_to_message_id"))
        self._markup(message, params.get("reply_markup"))
        return message

    def _stored(self, message: Json) -> Json:
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    def _send_message(self, params: Json) -> Json:
        chat = self._chat(params.get("chat_id"))
        text, entities = formatted_text(params)
        message = self._new_message(chat, params)
        message["text"] = text
        if entities:
            message["entities"] = entities
        return self._stored(message)

    def _send_message_draft(self, params: Json) -> bool:
        """A draft streamed to a private chat: shown to the user, never a message (the bot
        sends the message once it is written). Kept in `drafts[chat_id]`, oldest first."""
        chat = self._chat(params.get("chat_id"))
        if chat.get("type", "private") != "private" or int(chat["id"]) < 0:
            raise bad("TEXTDRAFT_PEER_INVALID")
        draft_id = int(params.get("draft_id") or 0)
        if not draft_id:
            raise bad("draft_id must be non-zero")
        text, entities = formatted_text(params)
        draft = {"draft_id": draft_id, "text": text, "entities": entities}
        self.drafts.setdefault(int(chat["id"]), []).append(draft)
        return True

    def _thread(self, message: Json, thread_id: Any) -> None:
        if thread_id not in (None, ""):
            message["message_thread_id"] = int(thread_id)
            if message["chat"].get("is_forum"):
                message["is_topic_message"] = True

    def _reply(self, message: Json, parameters: Any, legacy_id: Any) -> None:
        reply = parameters if isinstance(parameters, dict) else {}
        target = reply.get("message_id", legacy_id)
        if target in (None, ""):
            return
        original = self.messages.get((message["chat"]["id"], int(target)))
        if original is not None:
            message["reply_to_message"] = {
                k: v for k, v in original.items() if k != "reply_to_message"
            }
        elif not reply.get("allow_sending_without_reply"):
            raise bad("message to be replied not found")

    def _markup(self, message: Json, markup: Any) -> None:
        if not markup:
            return
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return  # a reply keyboard or force_reply: Telegram does not return it
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad("can't parse inline keyboard button: field \"inline_keyboard\" must be "
                      "an Array of Arrays")
        for button in (b for row in rows for b in row):
            _check_button(button)
        message["reply_markup"] = markup

    def _own_message(self, params: Json, refusal: str) -> Json:
        chat = self._chat(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id") or 0))
        message = self.messages.get(key)
        if message is None or key in self.deleted:
            raise bad(refusal)
        return message

    def _editable(self, params: Json) -> Json:
        if params.get("inline_message_id"):
            raise bad("not emulated: inline messages")
        message = self._own_message(params, "message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad("message can't be edited")
        return message

    def _edit_message_text(self, params: Json) -> Json:
        message = self._editable(params)
        text, entities = formatted_text(params)
        markup = params.get("reply_markup") or None
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        self._changed_or_refuse(message, {"text": text, "entities": entities}, markup)
        message.update(text=text, edit_date=int(time.time()))
        _set_optional(message, "entities", entities)
        message.pop("reply_markup", None)
        self._markup(message, markup)
        return message

    def _edit_message_caption(self, params: Json) -> Json:
        message = self._editable(params)
        caption, entities = formatted_caption(params)
        markup = params.get("reply_markup") or None
        if "text" in message:
            raise bad("there is no caption in the message to edit")
        self._changed_or_refuse(message, {"caption": caption, "caption_entities": entities},
                                markup)
        message["edit_date"] = int(time.time())
        _set_optional(message, "caption", caption)
        _set_optional(message, "caption_entities", entities)
        message.pop("reply_markup", None)
        self._markup(message, markup)
        return message

    def _edit_message_reply_markup(self, params: Json) -> Json:
        message = self._editable(params)
        markup = params.get("reply_markup") or None
        self._changed_or_refuse(message, {}, markup)
        message["edit_date"] = int(time.time())
        message.pop("reply_markup", None)
        self._markup(message, markup)
        return message

    def _changed_or_refuse(self, message: Json, content: Json, markup: Any) -> None:
        same_content = all(message.get(k) == (v or None) for k, v in content.items())
        if same_content and markup == message.get("reply_markup"):
            raise bad(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )

    def _delete_message(self, params: Json) -> bool:
        message = self._own_message(params, "message to delete not found")
        self.deleted.add((message["chat"]["id"], message["message_id"]))
        return True

    def _send_chat_action(self, params: Json) -> bool:
        self._chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    def _answer_callback_query(self, params: Json) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._queries or query_id in self.answered:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        self.answered[query_id] = params
        return True

    def _set_message_reaction(self, params: Json) -> bool:
        message = self._own_message(params, "message to react not found")
        reaction = params.get("reaction") or []
        if not isinstance(reaction, list):
            raise bad("can't parse reaction types JSON object")
        for item in reaction:
            if not _valid_reaction(item):
                raise bad("REACTION_INVALID")
        self.reactions[(message["chat"]["id"], message["message_id"])] = reaction
        return True

    # files

    def _get_file(self, params: Json) -> Json:
        known = self.store.files.get(str(params.get("file_id") or ""))
        if known is None:
            raise bad("invalid file_id")
        return known[0]

    def _file(self, kind: str, value: Any, params: Json) -> Json | list[Json]:
        """The message field for a file given as an upload, an `attach://` name, a file_id
        Telegram knows or an HTTP URL (which Telegram would download)."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            return self.store.media(kind, self.store.new(kind, value), value)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            upload = Upload(value.rsplit("/", 1)[-1] or "file", "application/octet-stream", b"")
            return self.store.media(kind, self.store.new(kind, upload), upload)
        known = self.store.files.get(str(value or ""))
        if known is None:
            raise bad("wrong file identifier/HTTP URL specified")
        return self.store.media(kind, known[0], None)

    def _send_media(self, kind: str, params: Json) -> Json:
        chat = self._chat(params.get("chat_id"))
        if params.get(kind) in (None, ""):
            raise bad(f"there is no {kind} in the request")
        caption, entities = formatted_caption(params)
        message = self._new_message(chat, params)
        message[kind] = self._file(kind, params[kind], params)
        _set_optional(message, "caption", caption)
        _set_optional(message, "caption_entities", entities)
        return self._stored(message)

    def _send_media_group(self, params: Json) -> list[Json]:
        chat = self._chat(params.get("chat_id"))
        media = params.get("media")
        if not isinstance(media, list):
            raise bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise bad("wrong number of messages in the media group: 2-10 are allowed")
        kinds = {item.get("type") if isinstance(item, dict) else None for item in media}
        if not kinds <= GROUP_KINDS:
            raise bad("can't parse InputMedia: media type must be photo, video, document or audio")
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise bad("MEDIA_GROUP_INVALID: documents and audio can't be mixed with other media")
        self._media_groups += 1
        group_id = str(13_000_000_000 + self._media_groups)
        sent = [self._group_member(chat, item, params, group_id) for item in media]
        return [self._stored(message) for message in sent]

    def _group_member(self, chat: Json, item: Json, params: Json, group_id: str) -> Json:
        caption, entities = formatted_caption(item)
        message = self._new_message(chat, {k: v for k, v in params.items() if k != "reply_markup"})
        message["media_group_id"] = group_id
        message[item["type"]] = self._file(item["type"], item.get("media"), params)
        _set_optional(message, "caption", caption)
        _set_optional(message, "caption_entities", entities)
        return message

    # commands

    def _set_my_commands(self, params: Json) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON object")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            if not 1 <= len(name) <= 32 or not set(name) <= _COMMAND_NAME:
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_command_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: Json) -> list[Json]:
        return self.commands.get(_command_key(params), [])

    def _delete_my_commands(self, params: Json) -> bool:
        self.commands.pop(_command_key(params), None)
        return True


def _command_key(params: Json) -> str:
    """Commands are kept per scope and language, like Telegram keeps them."""
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or "text" not in button:
        raise bad(
            "can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard"
        )
    if len(str(button.get("callback_data", "")).encode()) > MAX_CALLBACK_DATA:
        raise bad("BUTTON_DATA_INVALID")


def _set_optional(message: Json, key: str, value: Any) -> None:
    if value:
        message[key] = value
    else:
        message.pop(key, None)


def _valid_reaction(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("type") == "emoji":
        return item.get("emoji") in REACTIONS
    if item.get("type") == "custom_emoji":
        return str(item.get("custom_emoji_id", "")).isdigit()
    return item.get("type") == "paid"


def guess_chat(chat_id: int) -> Json:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}
