"""The Content-Security-Policy (web/headers.py): every answer carries it, its scripts and styles
come from this site's files only, and no template or page has an inline script, event handler
or style attribute that it would block (their behaviour is in static/userman.js)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from userman.services import Userman
from userman.web.app import create_app
from userman.web.headers import POLICY
from web.test_customer_pages import log_in

WEB = Path(__file__).parents[2] / "src" / "userman" / "web"
# What a policy without 'unsafe-inline' blocks: <script> without src, on*= handlers, style
# attributes and <style> elements, javascript: addresses.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|\bon[a-z]+\s*=|\bstyle\s*=|<style\b|javascript:|\bhx-on", re.I
)


def inline_in(html: str) -> list[str]:
    return INLINE.findall(html)


@pytest.mark.parametrize(
    "template",
    sorted((WEB / "templates").rglob("*.html")),
    ids=lambda path: str(path.relative_to(WEB / "templates")),
)
def test_no_template_has_inline_script_or_style(template: Path) -> None:
    assert inline_in(template.read_text()) == []


def test_the_policy_allows_no_inline_script_nor_style() -> None:
    rules = dict(rule.strip().split(" ", 1) for rule in POLICY.split(";"))
    assert rules["script-src"] == "'self'"
    assert rules["style-src"] == "'self'"
    assert rules["object-src"] == "'none'"
    assert "unsafe" not in POLICY


@pytest.fixture
def admin(userman: Userman) -> Iterator[TestClient]:
    with TestClient(create_app(userman), follow_redirects=False) as http:
        log_in(http, "admin", "")
        yield http


def test_every_page_has_the_policy_and_no_inline_script(admin: TestClient) -> None:
    # The pages the navigation leads to, each list's first item and its new-item form, and
    # pages anyone can reach.
    status = admin.get("/userman/status").text
    pages = set(re.findall(r'href="(/userman/[a-z-]+)"', status))
    assert len(pages) >= 10
    for page in sorted(pages):
        listing = admin.get(page).text
        pages |= set(re.findall(r'href="(/userman/[a-z-]+/(?:new|[0-9A-F]+))"', listing)[:2])
    pages |= {"/userman/login", "/user", "/api/docs", "/userman/nowhere", "/userman/signup"}
    for page in sorted(pages):
        answer = admin.get(page)
        assert answer.headers["content-security-policy"] == POLICY, page
        assert inline_in(answer.text) == [], page


def test_the_policy_is_on_api_and_static_answers_too(admin: TestClient) -> None:
    for path in ("/api/v1/user", "/static/userman.js", "/api/openapi.json"):
        assert admin.get(path).headers["content-security-policy"] == POLICY
