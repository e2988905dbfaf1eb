"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) under `security.secret_key`."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from gateway.config import Settings
from gateway.errors import ConfigError
from store.engine import is_sqlite

log = logging.getLogger(__name__)
KEY_FILE = "botgate.key"


def generate_key() -> str:
    return Fernet.generate_key().decode()


class Vault:
    """Encrypts and decrypts small secrets (platform credentials)."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()
        try:
            self._fernet = Fernet(self._key)
        except (ValueError, TypeError):
            raise ConfigError(
                "security.secret_key must be url-safe base64 of 32 bytes; "
                "make one with `botgate keygen`"
            ) from None

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def derive(self, purpose: str) -> bytes:
        """A key of its own for `purpose` (e.g. signing web chat visitor tokens), so that one
        secret serves several uses without one use's output helping against another."""
        return hmac.new(self._key, f"botgate:{purpose}".encode(), hashlib.sha256).digest()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "stored credentials do not decrypt with security.secret_key; was the key changed?"
            ) from None


def vault_for(settings: Settings) -> Vault:
    """The configured key; on embedded SQLite without one, a key file beside the database."""
    vault = existing_vault(settings)
    return vault if vault is not None else Vault(_local_key(Path(KEY_FILE)))


def existing_vault(settings: Settings) -> Vault | None:
    """The key as `vault_for` finds it, creating nothing: None while the embedded key file
    does not exist yet (`serve` generates it on first start)."""
    if settings.security.secret_key:
        return Vault(settings.security.secret_key)
    if not is_sqlite(settings.database.url):
        raise ConfigError(
            "security.secret_key is not set; it encrypts platform credentials in the "
            "database: make one with `botgate keygen` and set BOTGATE_SECRET_KEY or "
            "[security] secret_key"
        )
    path = Path(KEY_FILE)
    return Vault(path.read_text().strip()) if path.is_file() else None


def _local_key(path: Path) -> str:
    log.warning("no security.secret_key set: generated %s for the embedded database", path)
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
