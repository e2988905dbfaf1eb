"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) under `security.secret_key`."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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
        try:
            self._fernet = Fernet(key.encode())
            self._key = base64.urlsafe_b64decode(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                "security.secret_key must be url-safe base64 of 32 bytes; "
                "make one with `botgate keygen`"
            ) from None

    def derive(self, purpose: str) -> bytes:
        """32 bytes for another use of the key (HKDF-SHA256): nothing made with them for one
        purpose is accepted for another, nor mistaken for a stored credential."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
        return hkdf.derive(self._key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

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
