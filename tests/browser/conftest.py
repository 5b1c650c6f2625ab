"""Browser tests: Debian's chromium, driven by Playwright, against a real `userman serve`.

Playwright's own browser download is not used (it would fetch from the internet): the tests
launch /usr/bin/chromium (Debian's package `chromium`, which .ci/run installs), headless, with
the background networking that would reach outside hosts turned off. Screenshots of the pages
go to test-artifacts/screenshots/, to be looked at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from served import Server, start_server, stop_server
from support import missing

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("USERMAN_CHROMIUM") or shutil.which("chromium")
    if path is None:
        missing("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one module's tests. Not for the whole session: Playwright's sync API keeps
    an event loop running in this thread while it is open, and tests after the browser tests
    that run one of their own (asyncio.run) would fail."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def blocked_by_policy(page: object) -> list[str]:
    """What the page's Content-Security-Policy blocks (web/headers.py), as chromium reports it
    on the console, from now on: a list that a test expects to stay empty."""
    blocked: list[str] = []
    page.on(  # type: ignore[attr-defined]
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return blocked


@pytest.fixture
def page(browser: object, web_server: Server) -> Iterator[object]:
    """A new browser page (its own cookies) whose relative URLs go to the web server."""
    context = browser.new_context(  # type: ignore[attr-defined]
        base_url=web_server.http_url, viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(web_server.http_url) else outside.append(request.url)
        ),
    )
    blocked = blocked_by_policy(page)
    yield page
    context.close()
    assert outside == [], f"pages asked other hosts: {outside}"
    assert blocked == [], f"the pages did what their policy blocks: {blocked}"


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `userman serve` for every browser test."""
    folder = tmp_path_factory.mktemp("browser")
    server = start_server(f"sqlite:///{folder / 'userman.db'}", folder / "serve.log")
    yield server
    stop_server(server)


def screenshot(page: object, name: str) -> Path:
    """Keep a picture of the page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
