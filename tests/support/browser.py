"""A real, headless Chromium for the page tests: Debian's `chromium`, driven by Playwright.

The browser is the system package (`.ci/run` installs it), never a download. A machine
without it fails the test with what to install: a page test must not pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
ARTEFACTS_ENV = "BOTGATE_TEST_ARTEFACTS"  # where screenshots go; default test-artefacts/


def chromium_executable() -> str:
    explicit = os.environ.get("BOTGATE_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no chromium on PATH: install Debian's chromium (apt-get install chromium)")


def artefacts_dir() -> Path:
    root = Path(os.environ.get(ARTEFACTS_ENV, Path(__file__).parents[2] / "test-artefacts"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh headless Chromium per test (about half a second to start)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable(),
            headless=True,
            # containers have no user namespaces for Chromium's sandbox
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """One visitor: its own cookies and storage."""
    context = await browser.new_context()
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
def screenshots() -> Path:
    return artefacts_dir()
