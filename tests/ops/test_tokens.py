"""API tokens by scope: printed once, stored as a hash, 401/403 as the contract says,
audited, never logged."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from gateway.events import utcnow
from store.models import ApiToken
from tests.ops.support import botgate, call, config_file
from tests.support.pipeline import make_settings, running

ACTION = {
    "type": "message.send",
    "platform": "generic",
    "bot": "helpdesk",
    "channel_id": "room-1",
    "text": "hello",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_scope_may_do_what_it_allows_and_no_more(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(make_settings(database_url, "memory://tokens-scope")) as runtime:
        config = config_file(tmp_path, database_url)
        issued = {}
        for scope in ("read", "write", "admin"):
            ran = await botgate("token", "create", f"ci-{scope}", "--scope", scope, config=config)
            assert ran.code == 0, ran.err
            issued[scope] = ran.out.strip()
            assert issued[scope].startswith("bgt_")
            assert "shown only now" in ran.err
        read, write, admin = (bearer(issued[s]) for s in ("read", "write", "admin"))
        new_token = {"name": "from-api", "scope": "read", "expires": "1d"}
        answers = {
            "read GET": (await call(runtime, "GET", "/bots", read))[0],
            "read POST action": (await call(runtime, "POST", "/actions", read, ACTION))[0],
            "write POST action": (await call(runtime, "POST", "/actions", write, ACTION))[0],
            "write POST token": (await call(runtime, "POST", "/tokens", write, new_token))[0],
            "write redrive": (
                await call(runtime, "POST", "/dead-letters/redrive", write, {"all": True})
            )[0],
            "admin POST token": (await call(runtime, "POST", "/tokens", admin, new_token))[0],
            "admin redrive": (
                await call(runtime, "POST", "/dead-letters/redrive", admin, {"all": True})
            )[0],
            "config admin token": (await call(runtime, "GET", "/tokens"))[0],
        }
        assert answers == {
            "read GET": 200,
            "read POST action": 403,
            "write POST action": 202,
            "write POST token": 403,
            "write redrive": 403,
            "admin POST token": 201,
            "admin redrive": 202,
            "config admin token": 200,
        }
        refused = {
            "no header": await call(runtime, "GET", "/bots", {}),
            "bare token": await call(runtime, "GET", "/bots", {"Authorization": issued["read"]}),
            "unknown": await call(runtime, "GET", "/bots", bearer("bgt_nope")),
            "basic": await call(runtime, "GET", "/bots", {"Authorization": "Basic eDp5"}),
        }
        assert {k: v[0] for k, v in refused.items()} == dict.fromkeys(refused, 401)
        assert "Bearer <token>" in refused["bare token"][1]["error"]

        _, trail = await call(runtime, "GET", "/audit")
        seen = [(e["actor"], e["action"], e["outcome"]) for e in reversed(trail["entries"])]
        assert seen[:3] == [(f"cli:{_login()}", "token.create", "ok")] * 3
        assert seen[3:] == [
            ("token:ci-read", "access.denied", "denied"),
            ("token:ci-write", "action.send", "ok"),
            ("token:ci-write", "access.denied", "denied"),
            ("token:ci-write", "access.denied", "denied"),
            ("token:ci-admin", "token.create", "ok"),
        ]
        async with runtime.db.transaction() as db:
            hashes = (await db.execute(select(ApiToken.token_hash))).scalars().all()
    assert not set(hashes) & set(issued.values())  # only hashes are stored
    for token in issued.values():
        assert token not in caplog.text


def _login() -> str:
    import getpass

    return getpass.getuser()


async def test_revoked_and_expired_tokens_are_refused(database_url: str, tmp_path: Path) -> None:
    async with running(make_settings(database_url, "memory://tokens-revoke")) as runtime:
        status, made = await call(runtime, "POST", "/tokens", body={"name": "t1", "scope": "read"})
        assert status == 201
        status, later = await call(
            runtime, "POST", "/tokens", body={"name": "t2", "scope": "read", "expires": "90d"}
        )
        assert status == 201
        assert later["expires_at"] is not None
        assert (await call(runtime, "GET", "/bots", bearer(made["token"])))[0] == 200
        assert (await call(runtime, "GET", "/bots", bearer(later["token"])))[0] == 200

        config = config_file(tmp_path, database_url)
        revoked = await botgate("token", "revoke", "t1", config=config)
        assert revoked.code == 0, revoked.err
        async with runtime.db.transaction() as db:
            await db.execute(
                update(ApiToken)
                .where(ApiToken.name == "t2")
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert (await call(runtime, "GET", "/bots", bearer(made["token"])))[0] == 401
        status, body = await call(runtime, "GET", "/bots", bearer(later["token"]))
        assert status == 401
        assert "expired" in body["error"]

        listed = await botgate("token", "list", "--json", config=config)
        assert '"state":"revoked"' in listed.out
        assert '"state":"expired"' in listed.out
        assert made["token"] not in listed.out
        status, _ = await call(runtime, "DELETE", "/tokens/t1")
        assert status == 404  # revoked already


async def test_bad_token_commands_are_one_line_and_change_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with running(make_settings(database_url, "memory://tokens-bad"), serve_http=False):
        pass
    config = config_file(tmp_path, database_url)
    cases = [
        (("token", "create", "x", "--scope", "root"), "scope 'root' is not one of read, write"),
        (("token", "create", "x", "--scope", "read", "--expires", "soon"), "--expires 'soon'"),
        (("token", "create", "bad name", "--scope", "read"), "token name 'bad name'"),
        (("token", "revoke", "ghost"), "no active token named 'ghost'"),
    ]
    for args, expected in cases:
        ran = await botgate(*args, config=config)
        assert ran.code == 1, (args, ran.err)
        [line] = ran.err.strip().splitlines()  # one line
        assert line.startswith("botgate: ")
        assert expected in ran.err
    made = await botgate("token", "create", "x", "--scope", "read", config=config)
    again = await botgate("token", "create", "x", "--scope", "admin", config=config)
    assert made.code == 0
    assert again.code == 1
    assert "a token named 'x' exists" in again.err
    listed = await botgate("token", "list", config=config)
    assert listed.out.splitlines()[0].split()[:3] == ["x", "read", "active"]
    assert len(listed.out.splitlines()) == 1
