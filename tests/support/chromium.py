"""Debian's headless chromium for the browser tests and the browser benchmark."""

from __future__ import annotations

from typing import Any

EXECUTABLE = "/usr/bin/chromium"
# Root needs --no-sandbox; the others stop chromium calling out on this closed network.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright: Any) -> Any:
    """A headless chromium browser from a Playwright instance."""
    return playwright.chromium.launch(executable_path=EXECUTABLE, headless=True, args=ARGS)
