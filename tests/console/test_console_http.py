"""The console over plain HTTP: sessions, CSRF, back-off, secrets, and that its
writes are REST's writes (same errors, same webhooks)."""

import re

import httpx

from parley import accounts
from parley.console import sessions
from parley.testing import ParleyServer
from tests.console.conftest import Login, csrf_of, new_account, sign_in
from tests.webhooks.receiver import Receiver


def _cookie_header(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(name + "="))


def test_session_cookie_is_httponly_lax_and_secure_behind_https(
    console_server: ParleyServer, login: Login
) -> None:
    with httpx.Client(base_url=console_server.url) as plain:
        cookie = _cookie_header(sign_in(plain, login.sid, login.token), "parley_console")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/console" in cookie and "Secure" not in cookie
    # uvicorn applies a trusted proxy's X-Forwarded-Proto (127.0.0.1) to the scheme
    proxied = {"x-forwarded-proto": "https"}
    with httpx.Client(base_url=console_server.url, headers=proxied) as behind:
        form = behind.get("/console/sign-in")
        first = _cookie_header(form, "parley_console_signin")
        assert "Secure" in first and "HttpOnly" in first
        # httpx keeps Secure cookies off plain http: send the form's cookie by hand
        value = first.split(";", 1)[0].split("=", 1)[1]
        signed_in = behind.post(
            "/console/sign-in",
            data={
                "csrf_token": csrf_of(form.text),
                "AccountSid": login.sid,
                "AuthToken": login.token,
            },
            headers={"cookie": f"parley_console_signin={value}"},
        )
        cookie = _cookie_header(signed_in, "parley_console")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_every_page_sends_the_security_headers(http: httpx.Client) -> None:
    for path in ("/console/services", "/console/sign-in", "/console/static/htmx.min.js"):
        response = http.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    assert http.get("/console/services").headers["cache-control"] == "no-store"


def test_pages_need_a_session(console_server: ParleyServer) -> None:
    with httpx.Client(base_url=console_server.url) as anonymous:
        page = anonymous.get("/console/services")
        assert page.status_code == 303 and page.headers["location"] == "/console/sign-in"
        htmx = anonymous.get("/console/services", headers={"hx-request": "true"})
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/console/sign-in"
        posted = anonymous.post("/console/services", data={"FriendlyName": "x"})
        assert posted.status_code == 303


def test_csrf_token_is_required_and_must_match(http: httpx.Client, rest: object) -> None:
    page = http.get("/console/services")
    token = csrf_of(page.text)
    for data in ({"FriendlyName": "no token"}, {"FriendlyName": "bad", "csrf_token": "x" + token}):
        refused = http.post("/console/services", data=data)
        assert refused.status_code == 403
        assert "security token" in refused.text
    assert [s.friendly_name for s in rest.chat.v2.services.list()] == []  # type: ignore[attr-defined]
    # the sign-in form has its own token (double submit cookie)
    with httpx.Client(base_url=http.base_url) as fresh:
        bare = fresh.post("/console/sign-in", data={"AccountSid": "AC1", "AuthToken": "x"})
        assert bare.status_code == 403


def test_wrong_credentials_one_message_and_no_secret_echoed(
    console_server: ParleyServer, login: Login
) -> None:
    other = "AC" + "0" * 32
    with httpx.Client(base_url=console_server.url) as client:
        wrong_token = sign_in(client, login.sid, "not-the-token")
        wrong_sid = sign_in(client, other, login.token)
        for response in (wrong_token, wrong_sid):
            assert response.status_code == 401
            assert "Those credentials are not valid." in response.text
            assert login.token not in response.text and "not-the-token" not in response.text
            assert "parley_console=" not in response.headers.get("set-cookie", "")
        assert re.sub(r"value=\"[^\"]*\"", "", wrong_token.text) == re.sub(
            r"value=\"[^\"]*\"", "", wrong_token.text
        )


def test_repeated_failures_are_slowed_down(console_server: ParleyServer) -> None:
    victim = new_account(console_server, "victim")
    with httpx.Client(base_url=console_server.url) as client:
        for _ in range(sessions.FREE_FAILURES["sid"]):
            assert sign_in(client, victim.sid, "guess").status_code == 401
        assert sign_in(client, victim.sid, "guess").status_code == 401  # now held off
        held = sign_in(client, victim.sid, victim.token)  # even the right token waits
        assert held.status_code == 429
        assert "Too many failed sign-ins" in held.text
    # another account from the same address is not held off
    with httpx.Client(base_url=console_server.url) as client:
        fine = new_account(console_server, "fine")
        assert sign_in(client, fine.sid, fine.token).status_code == 303


def test_api_key_signs_in_sign_out_ends_the_session(
    console_server: ParleyServer, login: Login
) -> None:
    assert console_server.app.store is not None
    key = console_server.run(accounts.create_key(console_server.app.store, login.sid))
    with httpx.Client(base_url=console_server.url) as client:
        assert sign_in(client, key["sid"], key["secret"]).status_code == 303
        page = client.get("/console/services")
        assert page.status_code == 200 and key["sid"] in page.text
        assert key["secret"] not in page.text
        cookie = client.cookies["parley_console"]
        out = client.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
        assert out.status_code == 303
    with httpx.Client(base_url=console_server.url, cookies={"parley_console": cookie}) as old:
        assert old.get("/console/services").status_code == 303


def test_sessions_expire(console_server: ParleyServer, http: httpx.Client) -> None:
    assert http.get("/console/services").status_code == 200
    store = console_server.app.store
    assert store is not None

    async def expire() -> None:
        async with store.write() as tx:
            await tx.run("UPDATE console_sessions SET expires = 1")

    console_server.run(expire())
    assert http.get("/console/services").status_code == 303


def _service(http: httpx.Client, name: str) -> str:
    page = http.get("/console/services")
    made = http.post(
        "/console/services", data={"csrf_token": csrf_of(page.text), "FriendlyName": name}
    )
    assert made.status_code == 303
    return str(made.headers["location"]).split("?")[0]


def test_settings_error_shows_twilios_message_next_to_its_field(
    http: httpx.Client, rest: object
) -> None:
    url = _service(http, "limits")
    token = csrf_of(http.get(url).text)
    for wire, value, code in (
        ("Limits.ChannelMembers", "5000", "50061"),
        ("TypingIndicatorTimeout", "soon", "50053"),
        ("PostWebhookRetryCount", "9", "50065"),
        ("DefaultServiceRoleSid", "RL" + "0" * 32, "50100"),
    ):
        page = http.post(url, data={"csrf_token": token, wire: value, "FriendlyName": "renamed"})
        assert page.status_code in (400, 404), page.text
        field_id = "f-" + wire.replace(".", "-")
        error = re.search(rf'id="{field_id}-error"[^>]*>([^<]*)<', page.text)
        assert error and f"({code})" in error.group(1), (wire, page.text[:500])
        assert f'id="{field_id}"' in page.text
        if not wire.endswith("Sid"):  # a text field keeps what was typed
            assert f'value="{value}"' in page.text
    sid = url.rsplit("/", 1)[1]
    fetched = rest.chat.v2.services(sid).fetch()  # type: ignore[attr-defined]
    assert fetched.friendly_name == "limits"  # nothing of a refused form was stored


def test_credential_secrets_are_never_shown(http: httpx.Client, rest: object) -> None:
    page = http.get("/console/credentials")
    token = csrf_of(page.text)
    secret = "fcm-server-key-do-not-show"
    made = http.post(
        "/console/credentials",
        data={"csrf_token": token, "Type": "fcm", "FriendlyName": "push", "Secret": secret},
    )
    assert made.status_code == 303
    listed = http.get("/console/credentials")
    assert "push" in listed.text and secret not in listed.text
    # a refused form does not show the secret back either
    refused = http.post(
        "/console/credentials",
        data={"csrf_token": token, "Type": "apn", "Certificate": secret, "FriendlyName": "a"},
    )
    assert refused.status_code == 400 and secret not in refused.text
    assert [c.type for c in rest.chat.v2.credentials.list()] == ["fcm"]  # type: ignore[attr-defined]


def test_console_writes_are_rest_writes_with_the_same_webhooks(
    http: httpx.Client, rest: object, receiver: Receiver
) -> None:
    url = _service(http, "hooks")
    token = csrf_of(http.get(url).text)
    hook = f"http://127.0.0.1:{receiver.port}/post"
    saved = http.post(
        url,
        data={
            "csrf_token": token,
            "PostWebhookUrl": hook,
            "WebhookFilters": ["", "onMessageSent", "onChannelAdded"],
            "WebhookMethod": "POST",
        },
    )
    assert saved.status_code == 303
    # like REST, a write sends webhooks when asked (X-Twilio-Webhook-Enabled)
    on = {"csrf_token": token, "X-Twilio-Webhook-Enabled": "true"}
    made = http.post(url + "/channels", data={**on, "FriendlyName": "general", "Type": "public"})
    channel = str(made.headers["location"]).split("?")[0]
    quiet = http.post(channel, data={"csrf_token": token, "Body": "not announced"})
    assert quiet.status_code == 303
    posted = http.post(channel, data={**on, "From": "alice", "Body": "hi"})
    assert posted.status_code == 303
    got = receiver.wait_for(2)
    assert [r.params["EventType"] for r in got] == ["onChannelAdded", "onMessageSent"]
    assert got[1].params["Body"] == "hi" and got[1].params["From"] == "alice"
    sid = url.rsplit("/", 1)[1]
    [first, message] = rest.chat.v2.services(sid).channels.list()[0].messages.list()  # type: ignore[attr-defined]
    assert first._from == "system" and message.body == "hi" and message._from == "alice"
    assert len(receiver.quiet(0.3)) == 2
    deliveries = http.get(url + "/deliveries")
    assert deliveries.text.index("onMessageSent") < deliveries.text.index("onChannelAdded")
    # the REST API's own rule: the same error for the same bad write
    bad = http.post(channel, data={"csrf_token": token, "Attributes": "{not json"})
    assert bad.status_code == 400 and "(50304)" in bad.text


def test_channel_search_and_paged_messages(http: httpx.Client, rest: object) -> None:
    url = _service(http, "search")
    token = csrf_of(http.get(url).text)
    for name in ("Support desk", "sales", "100%_done"):
        http.post(url + "/channels", data={"csrf_token": token, "FriendlyName": name})
    found = http.get(url + "/channels", params={"q": "SUPP"})
    assert "Support desk" in found.text and "sales" not in found.text
    assert "100%_done" in http.get(url + "/channels", params={"q": "%_"}).text
    assert "Support desk" not in http.get(url + "/channels", params={"q": "%_"}).text
    sid = url.rsplit("/", 1)[1]
    channel = rest.chat.v2.services(sid).channels.create(friendly_name="long")  # type: ignore[attr-defined]
    for i in range(35):
        channel.messages.create(body=f"message {i:02d}")
    page = http.get(f"{url}/channels/{channel.sid}")
    bodies = re.findall(r'class="body">message (\d\d)<', page.text)
    assert bodies == [f"{i:02d}" for i in range(5, 35)]  # the newest 30, newest last
    older = re.search(r'href="\?PageToken=([^"]+)">← Older', page.text)
    assert older
    previous = http.get(f"{url}/channels/{channel.sid}", params={"PageToken": older.group(1)})
    assert re.findall(r'class="body">message (\d\d)<', previous.text) == [
        f"{i:02d}" for i in range(5)
    ]
