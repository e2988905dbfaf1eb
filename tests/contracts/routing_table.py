"""AMQP topic routing as data: (binding pattern, routing key, whether it matches).

One table drives both `topology.topic_matches` and real bindings on every bus. `*` is exactly
one word; `#` is zero or more words, so the zero-word cases matter most.
"""

from __future__ import annotations

ROUTES: tuple[tuple[str, str, bool], ...] = (
    # exact words
    ("a", "a", True),
    ("a", "b", False),
    ("a.b", "a.b", True),
    ("a.b", "a", False),
    ("a", "a.b", False),
    ("telegram.helpdesk.message.created", "telegram.helpdesk.message.created", True),
    # `*`: exactly one word
    ("*", "a", True),
    ("*", "a.b", False),
    ("a.*", "a.b", True),
    ("a.*", "a", False),
    ("a.*", "a.b.c", False),
    ("*.b", "a.b", True),
    ("*.*.message.created", "slack.helpdesk.message.created", True),
    ("*.*.message.created", "slack.helpdesk.message.updated", False),
    ("*.*.message.created", "generic.message.created", False),
    # `#` alone matches everything
    ("#", "a", True),
    ("#", "a.b.c", True),
    ("#", "telegram.helpdesk.message.created", True),
    # `#`: zero words
    ("a.#", "a", True),
    ("#.a", "a", True),
    ("a.#.b", "a.b", True),
    ("#.#", "a", True),
    # `#`: one or more words
    ("a.#", "a.b", True),
    ("a.#", "a.b.c", True),
    ("a.#", "b.a", False),
    ("#.a", "b.a", True),
    ("#.a", "b.c.a", True),
    ("#.a", "a.b", False),
    ("a.#.b", "a.x.b", True),
    ("a.#.b", "a.x.y.b", True),
    ("a.#.b", "a.b.c", False),
    ("a.#.b", "b.a.b", False),
    # `#` next to `*`: still at least the words `*` needs
    ("#.*", "a", True),
    ("*.#", "a.b.c", True),
    ("a.*.#", "a", False),
    ("a.*.#", "a.b", True),
    ("telegram.#", "telegram.helpdesk.message.created", True),
    ("telegram.#", "slack.helpdesk.message.created", False),
)
