"""botgate's pytest plugin as a user's test run sees it: found through the entry point alone,
fixtures on their own ports and gone after the test, options overridable, and a failed
`wait_for` reported without the emulator's own frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_TESTS = '''
import socket

import pytest

PORTS = []


@pytest.mark.asyncio
async def test_three_emulators(telegram_emulator, slack_emulator, discord_emulator):
    ports = {telegram_emulator.port, slack_emulator.port, discord_emulator.port}
    assert len(ports) == 3 and 0 not in ports
    PORTS.extend(ports)


def test_they_are_stopped_after_the_test():
    for port in PORTS:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.fixture
def telegram_emulator_options():
    return {"username": "custom_bot"}


@pytest.mark.asyncio
async def test_options_are_taken(telegram_emulator):
    assert telegram_emulator.bot_user["username"] == "custom_bot"


@pytest.mark.asyncio
async def test_a_failed_wait(slack_emulator):
    await slack_emulator.wait_for("C0GENERAL", "never", timeout=0.1)
'''


def test_the_plugin_in_a_users_test_run(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    output = result.stdout + result.stderr
    assert "1 failed, 3 passed" in output, output
    assert "slack emulator: the bot sent no message containing 'never'" in output
    assert "botgate/testing/base.py" not in output  # the emulator's frames are hidden
