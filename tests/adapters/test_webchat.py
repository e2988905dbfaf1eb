"""The web chat's parts without a server: visitor tokens, rate buckets, Markdown to safe
HTML, the `[bots.webchat]` configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.webchat.adapter import action_frame
from adapters.webchat.ratelimit import Buckets
from adapters.webchat.render import to_html
from adapters.webchat.tokens import TokenRefused, Visitor, VisitorTokens
from gateway.config import load_settings
from gateway.errors import ConfigError
from gateway.events import Action, Button

KEY = b"k" * 32


def test_a_token_names_its_visitor_until_it_expires() -> None:
    tokens = VisitorTokens(KEY, ttl_seconds=60)
    visitor, token = tokens.issue("helpdesk", now=1000)
    assert tokens.check(token, "helpdesk", now=1059) == visitor
    with pytest.raises(TokenRefused, match="expired"):
        tokens.check(token, "helpdesk", now=1060)
    with pytest.raises(TokenRefused, match="another bot"):
        tokens.check(token, "sales", now=1000)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another mac
        lambda t: VisitorTokens(b"x" * 32, 60).sign(Visitor("helpdesk", "v-1", 10**10)),
        lambda t: t.partition(".")[0],  # no mac
        lambda t: "e30." + t.partition(".")[2],  # "{}" under the genuine mac
        lambda t: "x" * 600,
        lambda t: t.partition(".")[0] + ".é",  # a mac that is not ASCII
    ],
)
def test_a_forged_token_is_refused(spoil: object) -> None:
    tokens = VisitorTokens(KEY, ttl_seconds=60)
    _, token = tokens.issue("helpdesk")
    with pytest.raises(TokenRefused):
        tokens.check(spoil(token), "helpdesk")  # type: ignore[operator]


def test_renewing_keeps_the_visitor_and_slides_the_expiry() -> None:
    tokens = VisitorTokens(KEY, ttl_seconds=60)
    visitor, _ = tokens.issue("helpdesk", now=1000)
    renewed, token = tokens.renew(visitor, now=1050)
    assert (renewed.id, renewed.expires) == (visitor.id, 1110)
    assert tokens.check(token, "helpdesk", now=1100).id == visitor.id


def test_buckets_allow_a_minute_in_a_burst_then_refill() -> None:
    now = [0.0]
    buckets = Buckets(per_minute=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(20.0)
    assert buckets.take("b") == 0.0  # another key has its own
    now[0] = 20.0
    assert buckets.take("a") == 0.0
    buckets.give_back("a")
    assert buckets.take("a") == 0.0


@pytest.mark.parametrize(
    ("markdown", "present", "absent"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;", "<img"),
        ("<script>alert(1)</script>", "&lt;script&gt;", "<script"),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))", "href"),
        ("![pixel](https://tracker.example/p.png)", 'href="https://tracker.example/p.png"', "<img"),
        ("see ![the map](https://e.example/m.png)", "<p>see <a href=", "!"),
        ("![](https://e.example/m.png)", '">https://e.example/m.png</a>', "<img"),
        ("![x](javascript:alert(1))", "![x](javascript:alert(1))", "href"),
        ('![a"b<c](https://e.example/"x)', ">a&quot;b&lt;c</a>", "<c"),
        ('[a](https://e.example/"onmouseover="x)', "%22onmouseover=%22x", '"onmouseover'),
        ("**bold** and `<b>`", "<strong>bold</strong> and <code>&lt;b&gt;</code>", "<b>"),
        ("[docs](https://docs.example)", 'rel="noopener noreferrer nofollow"', "javascript"),
    ],
)
def test_markdown_becomes_html_that_runs_nothing(markdown: str, present: str, absent: str) -> None:
    html = to_html(markdown)
    assert present in html
    assert absent not in html


def test_plain_text_is_escaped_with_its_line_breaks() -> None:
    assert to_html("a <b>\nc", "plain") == "<p>a &lt;b&gt;<br>\nc</p>"


def test_actions_become_frames_and_unsafe_button_links_are_dropped() -> None:
    buttons = [Button(id="a", label="A", url="javascript:alert(1)"), Button(id="b", label="B")]
    send = _action("message.send", text="hi", buttons=buttons)
    frame = action_frame(send)
    assert (frame["id"], frame["html"]) == (str(send.id), "<p>hi</p>\n")
    assert frame["buttons"] == [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]
    assert action_frame(_action("message.delete", message_id="m-1")) == {
        "type": "delete",
        "id": "m-1",
    }
    assert action_frame(_action("reaction.add", message_id="m-1", emoji="x")) == {}


def _action(type_: str, **fields: Any) -> Action:
    return Action(type=type_, platform="webchat", bot="b", channel_id="v-1", **fields)


def _config(tmp_path: Path, webchat: str) -> Path:
    path = tmp_path / "botgate.toml"
    path.write_text(f'[[bots]]\nname = "helpdesk"\n[bots.webchat]\n{webchat}\n')
    return path


@pytest.mark.parametrize(
    ("webchat", "message"),
    [
        (
            'allowed_origins = ["https://www.example.com/"]',
            r"bots\[0\]\.webchat\.allowed_origins\[0\] = 'https://www.example.com/'.*: "
            r"'https://www.example.com/' is not an origin; write scheme://host\[:port\]",
        ),
        ('allowed_origins = ["www.example.com"]', r"allowed_origins\[0\] = 'www.example.com'"),
        ('allowed_origins = ["https://x.example/chat"]', "is not an origin"),
        ('allowed_origins = "https://x.example"', r"bots\[0\]\.webchat\.allowed_origins = "),
        ("max_message_chars = 0", r"bots\[0\]\.webchat\.max_message_chars = 0"),
        ("visitor_per_minute = -1", r"bots\[0\]\.webchat\.visitor_per_minute"),
        ('visitor_ttl = "forever"', r"bots\[0\]\.webchat\.visitor_ttl = 'forever'"),
        ("allowed_origin = []", r"unknown key bots\[0\]\.webchat\.allowed_origin.*did you mean"),
    ],
)
def test_webchat_config_mistakes_name_the_key(tmp_path: Path, webchat: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(_config(tmp_path, webchat), environ={})
    assert "\n" not in str(caught.value)


def test_origins_are_kept_in_the_form_browsers_send(tmp_path: Path) -> None:
    path = _config(tmp_path, 'allowed_origins = ["HTTPS://WWW.Example.com", "http://[::1]:8080"]')
    bot = load_settings(path, environ={}).bots[0]
    assert bot.webchat is not None
    assert bot.webchat.allowed_origins == ["https://www.example.com", "http://[::1]:8080"]
    assert "webchat" in bot.platforms()
