"""The console in a real browser: Debian's chromium, driven by playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(``make test`` and ``.ci/run`` install it). Without it these tests skip, except
under CI=true, where they fail. ``make screenshots`` writes the README's
screenshots (docs/img/) from these same tests.
"""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.testing import ParleyServer
from tests.conftest import IN_CI
from tests.console.conftest import Login

try:
    from playwright import sync_api as playwright_api
except ImportError:  # pip install -e '.[dev]' brings it
    if IN_CI:
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

CHROMIUM = os.environ.get("PARLEY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("PARLEY_SCREENSHOTS")  # a folder: write the README's images there


@pytest.fixture
def console_server(sqlite_server: ParleyServer) -> ParleyServer:
    """The pages run the same REST operations on both engines (test_console_http.py
    runs on each); one browser pass on SQLite is enough."""
    return sqlite_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true: chromium is required at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"chromium not found at {CHROMIUM}: apt-get install chromium")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, console_server: ParleyServer) -> Iterator[Any]:
    context = browser.new_context(
        base_url=console_server.url, viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    # a CSP violation is reported on the console: htmx must run without inline code
    opened.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield opened
    context.close()
    assert errors == [], errors  # no script error or CSP violation on any page


def shot(page: Any, tmp_path: Path, name: str, full_page: bool = False) -> None:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    page.screenshot(path=str(target), full_page=full_page)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def sign_in(page: Any, login: Login) -> None:
    page.goto("/console")
    page.get_by_label("Account SID").fill(login.sid)
    page.get_by_label("Auth Token").fill(login.token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/services")


def create_service(page: Any, name: str) -> str:
    page.goto("/console/services")
    page.get_by_label("Friendly name").fill(name)
    page.get_by_role("button", name="Create service").click()
    page.wait_for_url(re.compile(r"/console/services/IS[0-9a-f]{32}\?notice=created"))
    return str(page.url.split("/services/")[1].split("?")[0])


def test_sign_in_with_the_keyboard_and_sign_out(page: Any, login: Login) -> None:
    page.goto("/console/services")  # no session: the sign-in page
    page.wait_for_url("**/console/sign-in")
    assert page.evaluate("document.activeElement.id") == "f-AccountSid"
    page.keyboard.type(login.sid)
    page.keyboard.press("Tab")
    page.keyboard.type(login.token)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/services")
    assert page.get_by_role("heading", name="Services", exact=True).is_visible()
    assert login.token not in page.content() and login.token not in page.url
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in?notice=signed-out")
    page.goto("/console/services")
    page.wait_for_url("**/console/sign-in")


def test_wrong_password(page: Any, login: Login) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("Account SID").fill(login.sid)
    page.get_by_label("Auth Token").fill("wrong-" + login.token)
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "Those credentials are not valid."
    assert "/console/sign-in" in page.url and login.token not in page.url
    assert page.get_by_label("Auth Token").input_value() == ""  # never filled back
    assert "parley_console" not in {c["name"] for c in page.context.cookies()}


def test_create_service_and_change_its_settings(
    page: Any, login: Login, rest: Any, tmp_path: Path
) -> None:
    sign_in(page, login)
    sid = create_service(page, "Support chat")
    create_service(page, "Sales chat")
    page.goto("/console/services")
    assert page.get_by_role("link", name="Support chat").is_visible()
    shot(page, tmp_path, "console-services.png")

    page.goto(f"/console/services/{sid}")
    page.get_by_label("Friendly name").fill("Support chat (EU)")
    page.get_by_label("Reachability (online status of users)").check()
    page.get_by_label("Typing indicator timeout (seconds)").fill("7")
    page.get_by_label("Post-event webhook URL").fill("https://hooks.example.com/chat")
    page.get_by_label("Webhook method").select_option("GET")
    page.get_by_role("group", name="Post-event filters").get_by_label("onMessageSent").check()
    page.get_by_role("group", name="Pre-event filters").get_by_label("onMessageSend").check()
    new_message = page.get_by_role("group", name="New message")
    new_message.get_by_label("Enabled").check()
    new_message.get_by_label("Template").fill("${USER}: ${MESSAGE}")
    new_message.get_by_label("Badge count").check()
    page.get_by_label("Members per channel (1 to 1000)").fill("250")
    page.get_by_label("Compatibility message").fill("Update your app to see media")
    page.get_by_label("Default channel creator role").select_option(label="channel user")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url("**?notice=saved")
    assert page.get_by_role("status").inner_text() == "Saved."

    service = rest.chat.v2.services(sid).fetch()
    assert service.friendly_name == "Support chat (EU)"
    assert service.reachability_enabled is True
    assert service.typing_indicator_timeout == 7
    assert service.post_webhook_url == "https://hooks.example.com/chat"
    assert service.webhook_method == "GET"
    assert sorted(service.webhook_filters) == ["onMessageSend", "onMessageSent"]
    assert service.notifications["new_message"] == {
        "enabled": True,
        "template": "${USER}: ${MESSAGE}",
        "badge_count_enabled": True,
    }
    assert service.limits["channel_members"] == 250
    assert service.media["compatibility_message"] == "Update your app to see media"
    [creator] = [
        r for r in rest.chat.v2.services(sid).roles.list() if r.friendly_name == "channel user"
    ]
    assert service.default_channel_creator_role_sid == creator.sid
    # what was saved is what the page shows again
    assert page.get_by_label("Typing indicator timeout (seconds)").input_value() == "7"
    assert (
        page.get_by_role("group", name="Post-event filters")
        .get_by_label("onMessageSent")
        .is_checked()
    )
    shot(page, tmp_path, "console-settings.png", full_page=True)

    # a refused value: Twilio's message next to its field, nothing stored
    page.get_by_label("Members per channel (1 to 1000)").fill("5000")
    page.get_by_label("Friendly name").fill("not saved")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#f-Limits-ChannelMembers-error")
    assert "Invalid channel members limit format: 5000" in error.inner_text()
    assert "(50061)" in error.inner_text()
    described = page.get_by_label("Members per channel (1 to 1000)").get_attribute(
        "aria-describedby"
    )
    assert described == "f-Limits-ChannelMembers-error"
    assert rest.chat.v2.services(sid).fetch().friendly_name == "Support chat (EU)"

    # phone width: the settings page reflows without sideways scrolling
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"/console/services/{sid}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # delete, with a confirmation
    page.goto("/console/services")
    page.get_by_role("row", name=re.compile("Sales chat")).get_by_role(
        "link", name="Delete"
    ).click()
    assert page.get_by_role("heading", name="Delete Sales chat?").is_visible()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/console/services?notice=deleted")
    assert [s.friendly_name for s in rest.chat.v2.services.list()] == ["Support chat (EU)"]


def test_channel_messages_live_and_escaped(
    page: Any, login: Login, rest: Any, tmp_path: Path
) -> None:
    sign_in(page, login)
    sid = create_service(page, "Messages")
    page.goto(f"/console/services/{sid}/channels")
    form = page.locator("form", has=page.get_by_role("button", name="Create channel"))
    form.get_by_label("Friendly name").fill("General")
    form.get_by_label("Unique name").fill("general")
    form.get_by_role("button", name="Create channel").click()
    page.wait_for_url("**?notice=created")
    channel = rest.chat.v2.services(sid).channels("general").fetch()
    assert channel.friendly_name == "General"

    page.get_by_label("Post as (identity; empty posts as system)").fill("alice")
    page.get_by_label("Body").fill("Hello from the console")
    page.get_by_role("button", name="Post message").click()
    page.wait_for_url("**?notice=posted")
    listed = page.locator("#messages .message").last
    assert "Hello from the console" in listed.inner_text() and "alice" in listed.inner_text()
    [stored] = rest.chat.v2.services(sid).channels("general").messages.list()
    assert stored.body == "Hello from the console" and stored._from == "alice"

    # a body of markup is text: shown as typed, never run
    attack = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
    page.get_by_label("Body").fill(attack)
    page.get_by_role("button", name="Post message").click()
    page.wait_for_url("**?notice=posted")
    assert page.locator("#messages .message .body").last.inner_text() == attack
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#messages script, #messages img").count() == 0

    # live: a message sent through REST appears without a reload, also inert
    rest.chat.v2.services(sid).channels("general").messages.create(
        body="<script>window.__pwned = 3</script>live one", from_="bob"
    )
    page.locator("#messages .message", has_text="live one").wait_for()
    assert page.evaluate("window.__pwned") is None
    shot(page, tmp_path, "console-channel.png")


def test_a_form_posted_without_its_csrf_token_is_refused(
    page: Any, login: Login, rest: Any
) -> None:
    sign_in(page, login)
    page.goto("/console/services")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.get_by_label("Friendly name").fill("forged")
    page.get_by_role("button", name="Create service").click()
    assert page.get_by_role("heading", name="Form refused").is_visible()
    assert rest.chat.v2.services.list() == []
