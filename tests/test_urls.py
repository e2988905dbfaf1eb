import pytest

from gateway.urls import hide_password


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:s3cret@host:5672/v", "amqp://guest:***@host:5672/v"),
        (
            "postgresql+asyncpg://botgate:p%40ss@db:5432/botgate",
            "postgresql+asyncpg://botgate:***@db:5432/botgate",
        ),
        (
            "postgresql+asyncpg://postgres@127.0.0.1/test",
            "postgresql+asyncpg://postgres@127.0.0.1/test",
        ),
        (
            "sqlite+aiosqlite:////var/lib/botgate/botgate.db",
            "sqlite+aiosqlite:////var/lib/botgate/botgate.db",
        ),
        ("memory://", "memory://"),
    ],
)
def test_only_the_password_is_hidden(url: str, shown: str) -> None:
    assert hide_password(url) == shown
