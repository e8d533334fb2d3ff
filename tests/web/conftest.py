"""The web pages' tests: a real vitco serve (``tests.api.conftest``'s servers, the demo's
replay model) and Debian's chromium driven by Playwright.

Chromium is the system's (``scripts/install-system.sh`` installs it); Playwright's own browser
download is never used. Without chromium the browser tests skip (fail under CI=true).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import api_settings, make_server, server
from tests.conftest import skip_or_fail

__all__ = ["api_settings", "make_server", "server"]

DATA = Path(__file__).parent / "data"
AXE = DATA / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    return shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.access(p, os.X_OK)),
        None,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (one per test module)."""
    executable = chromium_path()
    if executable is None:
        skip_or_fail("chromium is not installed (scripts/install-system.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: WEB_SCREENSHOTS (docs/screenshots to refresh the
    docs' pictures) or a temporary directory; printed, so a failing run shows where."""
    wanted = os.environ.get("WEB_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder
