"""Checks both web UIs share in the browser tests: what the CSP refused, and whether the
keyboard focus can be seen."""

from __future__ import annotations

from playwright.async_api import Locator, Page


def csp_refusals(page: Page) -> list[str]:
    """The page's console messages about its Content-Security-Policy, collected from now on:
    an inline style or script the policy blocks is a broken page in production."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


async def focus_ring(element: Locator) -> str:
    """The outline drawn around `element` once the keyboard focused it ("none" when absent)."""
    return str(
        await element.evaluate(
            "e => { const s = getComputedStyle(e);"
            " return s.outlineStyle === 'none' ? 'none' : s.outlineWidth + ' ' + s.outlineStyle }"
        )
    )
