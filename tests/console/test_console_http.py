"""The console over plain HTTP: sessions, CSRF, back-off, secrets, and that its
writes are REST's writes (same errors, same webhooks)."""

import re
import time
from typing import Any

import httpx
import trustme
from markupsafe import escape

from parley import accounts
from parley.console import sessions
from parley.domain import bindings
from parley.events import Origin
from parley.store import repo
from parley.testing import ParleyServer
from tests.console.conftest import Login, csrf_of, new_account, sign_in
from tests.push.fakes import apns_certificate
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

        # the two pages differ only in the values typed back (the SID) and the form token
        def blank(text: str) -> str:
            return re.sub(r'value="[^"]*"', "", text)

        assert blank(wrong_token.text) == blank(wrong_sid.text)


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
        upper = key["sid"][:2] + key["sid"][2:].upper()  # SIDs match in either case
        assert sign_in(client, upper, key["secret"]).status_code == 303
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


def _location(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:2000]
    return str(response.headers["location"]).split("?")[0]


def test_users_roles_members_webhooks_and_messages(http: httpx.Client, rest: Any) -> None:
    url = _service(http, "tour")
    sid = url.rsplit("/", 1)[1]
    token = csrf_of(http.get(url).text)
    form = {"csrf_token": token}
    svc = rest.chat.v2.services(sid)

    # roles: permissions as checkboxes of the known names
    role_url = _location(
        http.post(
            url + "/roles",
            data={
                **form,
                "FriendlyName": "moderator",
                "Type": "channel",
                "Permission": ["sendMessage", "deleteAnyMessage"],
            },
        )
    )
    role = svc.roles(role_url.rsplit("/", 1)[1]).fetch()
    assert sorted(role.permissions) == ["deleteAnyMessage", "sendMessage"]
    page = http.get(role_url)
    assert re.search(r'value="deleteAnyMessage" checked', page.text)
    assert 'value="createChannel"' not in page.text  # a deployment permission
    _location(http.post(role_url, data={**form, "Permission": ["", "sendMessage"]}))
    assert svc.roles(role.sid).fetch().permissions == ["sendMessage"]
    bad = http.post(
        url + "/roles",
        data={**form, "FriendlyName": "x", "Type": "channel", "Permission": "createChannel"},
    )
    assert bad.status_code == 400 and "(50104)" in bad.text

    # users: create, edit role and attributes, their channels and unread counts
    user_url = _location(
        http.post(url + "/users", data={**form, "Identity": "alice", "FriendlyName": "Alice"})
    )
    admin = next(r for r in svc.roles.list() if r.friendly_name == "service admin")
    _location(
        http.post(user_url, data={**form, "RoleSid": admin.sid, "Attributes": '{"team": "eu"}'})
    )
    alice = svc.users("alice").fetch()
    assert alice.role_sid == admin.sid and alice.attributes == '{"team": "eu"}'
    taken = http.post(url + "/users", data={**form, "Identity": "alice"})
    assert taken.status_code == 409 and "(50201)" in taken.text

    # a channel, alice as a member with the new role, two messages she has not read
    channel_url = _location(http.post(url + "/channels", data={**form, "FriendlyName": "ops"}))
    ch = channel_url.rsplit("/", 1)[1]
    members_url = channel_url + "/members"
    _location(http.post(members_url, data={**form, "Identity": "alice", "RoleSid": role.sid}))
    [member] = svc.channels(ch).members.list()
    assert member.identity == "alice" and member.role_sid == role.sid
    assert "alice" in http.get(members_url).text
    for body in ("one", "two"):
        _location(http.post(channel_url, data={**form, "Body": body}))
    svc.channels(ch).members(member.sid).update(last_consumed_message_index=0)
    user_page = http.get(user_url)
    row = re.search(
        rf">ops</a><br><code>{ch}</code></td>\s*<td>joined</td>\s*<td>(\d+)</td>", user_page.text
    )
    assert row and row.group(1) == "1"  # one unread message

    # edit a message, then delete it with its confirmation
    first = svc.channels(ch).messages.list()[0]
    message_url = f"{channel_url}/messages/{first.sid}"
    assert "one" in http.get(message_url).text
    _location(http.post(message_url, data={**form, "Body": "one, edited"}))
    assert svc.channels(ch).messages(first.sid).fetch().body == "one, edited"
    target = f"/v2/Services/{sid}/Channels/{ch}/Messages/{first.sid}"
    confirm = http.get("/console/delete", params={"target": target, "next": channel_url})
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    _location(http.post("/console/delete", data={**form, "target": target, "next": channel_url}))
    assert [m.body for m in svc.channels(ch).messages.list()] == ["two"]

    # channel edit and channel webhooks
    _location(http.post(channel_url + "/edit", data={**form, "UniqueName": "ops-room"}))
    assert svc.channels("ops-room").fetch().sid == ch
    hooks_url = channel_url + "/webhooks"
    _location(
        http.post(
            hooks_url,
            data={
                **form,
                "Type": "webhook",
                "Configuration.Url": "https://example.com/hook",
                "Configuration.Method": "POST",
                "Configuration.Filters": "onMessageSent",
            },
        )
    )
    [hook] = svc.channels(ch).webhooks.list()
    assert hook.configuration["filters"] == ["onMessageSent"]
    assert "https://example.com/hook" in http.get(hooks_url).text
    bad_hook = http.post(
        hooks_url, data={**form, "Type": "webhook", "Configuration.Url": "not a url"}
    )
    assert bad_hook.status_code == 400 and 'id="f-Configuration-Url-error"' in bad_hook.text

    # a foreign or unknown resource is the API's 404, shown as a page
    missing = http.get(f"{url}/channels/CH{'0' * 32}")
    assert missing.status_code == 404 and "(20404)" in missing.text
    for page_url in (url + "/users", url + "/roles", url + "/deliveries", "/console/credentials"):
        assert http.get(page_url).status_code == 200


def test_a_body_over_the_rest_limit_is_refused(http: httpx.Client) -> None:
    token = csrf_of(http.get("/console/services").text)
    huge = {"csrf_token": token, "FriendlyName": "x" * (1 << 21)}
    refused = http.post("/console/services", data=huge)
    assert refused.status_code == 400 and "(20001)" in refused.text


def test_failures_from_one_address_are_slowed_down_whatever_the_sid(
    console_server: ParleyServer,
) -> None:
    store = console_server.app.store
    assert store is not None
    address = "203.0.113.7"  # documentation range: no test signs in from there
    for i in range(sessions.FREE_FAILURES["ip"]):
        assert console_server.run(sessions.wait_seconds(store, address, "")) == 0
        console_server.run(sessions.failed(store, address, f"AC{i:032x}"))
    assert console_server.run(sessions.wait_seconds(store, address, "")) == 0
    console_server.run(sessions.failed(store, address, "someone"))
    assert console_server.run(sessions.wait_seconds(store, address, "AC" + "f" * 32)) >= 1
    assert console_server.run(sessions.wait_seconds(store, "203.0.113.8", "")) == 0


def test_lists_page_with_rest_tokens(http: httpx.Client, rest: Any) -> None:
    url = _service(http, "many")
    channels = rest.chat.v2.services(url.rsplit("/", 1)[1]).channels
    for i in range(51):
        channels.create(friendly_name=f"room {i:02d}", type="private" if i % 2 else "public")
    first = http.get(url + "/channels")
    names = re.findall(r">room (\d\d)</a>", first.text)
    assert names == [f"{i:02d}" for i in range(50)]  # public and private, oldest first
    following = re.search(r'href="\?PageToken=([^"]+)">Next', first.text)
    assert following and "Previous" not in first.text
    second = http.get(url + "/channels", params={"PageToken": following.group(1)})
    assert re.findall(r">room (\d\d)</a>", second.text) == ["50"]
    assert "← Previous" in second.text and "Next →" not in second.text


def _bind(server: ParleyServer, service_sid: str, identity: str, credential: Any) -> str:
    """A binding as the SDK's registrar makes one: the device token as its address."""
    store = server.app.store
    assert store is not None

    async def register() -> str:
        async with store.write() as tx:
            service = await repo.get(tx, "services", {"sid": service_sid})
            assert service is not None
            row = await bindings.register(
                tx,
                service,
                identity,
                f"app:{identity}",
                credential.type,
                Origin("sdk", identity=identity),
                credential_sid=credential.sid,
                address=f"device-token-of-{identity}",
            )
        return str(row["sid"])

    sid: str = server.run(register())
    return sid


def _settled_pushes(server: ParleyServer, login: Login, count: int) -> list[dict[str, Any]]:
    """The account's push record (the control plane's), once ``count`` are no longer pending."""
    deadline = time.monotonic() + 10
    while True:
        found = httpx.get(
            server.url + "/parley/v1/pushes", auth=(login.sid, login.token), timeout=10
        ).json()["pushes"]
        done = [p for p in found if p["state"] != "pending"]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(0.05)


def test_deliveries_page_lists_the_services_pushes(
    console_server: ParleyServer, login: Login, http: httpx.Client, rest: Any
) -> None:
    url = _service(http, "pushes")
    sid = url.rsplit("/", 1)[1]
    other = _service(http, "other")
    token = csrf_of(http.get(url).text)
    on = {"Notifications.NewMessage.Enabled": "true", "Notifications.LogEnabled": "true"}
    assert http.post(url, data={"csrf_token": token, **on}).status_code == 303
    # an APNs credential: the worker's one FCM client, made at its first FCM
    # credential, would trust no test CA in tests/push (SSL_CERT_FILE is read then)
    certificate, key = apns_certificate(trustme.CA())
    credential = rest.chat.v2.credentials.create(
        type="apn", certificate=certificate, private_key=key
    )
    svc = rest.chat.v2.services(sid)
    channel = svc.channels.create(friendly_name="ops")
    for who in ("alice", "bob"):
        svc.channels(channel.sid).members.create(identity=who)
    binding = _bind(console_server, sid, "bob", credential)
    empty = http.get(url + "/deliveries")
    assert "No pushes yet" in empty.text

    # a message posted in the console pushes to bob (a member with a binding), not its author
    posted = f"{url}/channels/{channel.sid}"
    evil = '<script>alert("push")</script>'
    form = {"csrf_token": token, "From": "alice"}
    assert http.post(posted, data={**form, "Body": evil}).status_code == 303
    [recorded] = _settled_pushes(console_server, login, 1)
    assert recorded["identity"] == "bob" and recorded["state"] == "recorded"
    page = http.get(url + "/deliveries").text
    for shown in ("new_message", "bob", binding, "apn", "device-token-of-bob", "recorded"):
        assert shown in page
    # the rendered text is escaped, and no credential secret is on the page
    text = f"ops;alice: {evil}"
    assert recorded["body"] == text
    assert str(escape(text)) in page and "<script>alert" not in page
    assert "PRIVATE KEY" not in page and certificate.splitlines()[1] not in page
    # another service's page does not list them
    assert binding not in http.get(other + "/deliveries").text

    # with logging off the text is not shown; the push still is
    off = {"csrf_token": token, "Notifications.LogEnabled": "false"}
    assert http.post(url, data=off).status_code == 303
    assert http.post(posted, data={**form, "Body": "quiet words"}).status_code == 303
    assert len(_settled_pushes(console_server, login, 2)) == 2
    page = http.get(url + "/deliveries").text
    assert "quiet words" not in page and "not logged" in page
    assert page.index("not logged") < page.index(str(escape(text)))
