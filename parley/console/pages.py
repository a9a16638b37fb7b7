"""The console's pages: each reads and writes through REST operations.

A page's POST runs one operation with the form as its params; success is a
303 to the page that shows the result, a ``TwilioError`` shows the page again
with the message next to its field. Paths below are under ``/console``.
"""

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from parley.api import channels as channel_api
from parley.console import sessions
from parley.console.app import (
    COOKIE,
    PREFIX,
    WEBHOOKS_FIELD,
    Console,
    Page,
    page_token,
    redirect,
)
from parley.domain import channels as channel_domain
from parley.errors import TwilioError
from parley.push import outbox as push_outbox
from parley.push import routes as push_routes
from parley.webhooks import double

PAGE_SIZE = "50"
MESSAGES_PAGE = "30"
SEARCH_MAX = 50


def _service(page: Page) -> str:
    return f"/v2/Services/{page.request.path_params['svc']}"


def _channel(page: Page) -> str:
    return f"{_service(page)}/Channels/{page.request.path_params['ch']}"


def _here(page: Page) -> str:
    return page.request.url.path


def _paging(page: Page, size: str = PAGE_SIZE) -> list[tuple[str, str]]:
    query = [("PageSize", size)]
    token = page.request.query_params.get("PageToken")
    return [*query, ("PageToken", token)] if token else query


async def _submit(
    c: Console, page: Page, path: str, done: Callable[[Any], Response], method: str = "POST"
) -> tuple[Response | None, dict[str, str], int]:
    """Run the page's form as one operation: (response on success, errors, status)."""
    if not page.posted:
        return None, {}, 200
    try:
        out = await c.run(page, method, path, page.pairs)
    except TwilioError as exc:
        return None, c.errors(method, path, exc), exc.status
    return done(out), {}, 200


def _show(
    c: Console, page: Page, template: str, errors: dict[str, str], status: int, **ctx: Any
) -> Response:
    return c.render(
        page.request,
        template,
        status=status,
        session=page.session,
        errors=errors,
        submitted=page.form if errors else {},
        **ctx,
    )


async def services(c: Console, page: Page) -> Response:
    done, errors, status = await _submit(
        c,
        page,
        "/v2/Services",
        lambda out: redirect(f"{PREFIX}/services/{out['sid']}", "created"),
    )
    if done:
        return done
    listing = await c.run(page, "GET", "/v2/Services", _paging(page))
    return _show(c, page, "services.html", errors, status, listing=listing)


async def settings(c: Console, page: Page) -> Response:
    path = _service(page)
    done, errors, status = await _submit(c, page, path, lambda out: redirect(_here(page), "saved"))
    if done:
        return done
    service = await c.run(page, "GET", path)
    roles = await c.every(page, path + "/Roles", "roles")
    return _show(c, page, "settings.html", errors, status, service=service, roles=roles)


async def delete(c: Console, page: Page) -> Response:
    """Every delete: a confirmation page (GET) and the REST DELETE (POST)."""
    source = page.form if page.posted else {k: [v] for k, v in page.request.query_params.items()}
    target = (source.get("target") or [""])[-1]
    back = (source.get("next") or [""])[-1]
    if not target.startswith("/v2/") or not back.startswith(PREFIX + "/"):
        raise TwilioError(20001, message="Nothing to delete", name="target")
    if page.posted:
        await c.run(page, "DELETE", target, [p for p in page.pairs if p[0] == WEBHOOKS_FIELD])
        return redirect(back, "deleted")
    found = await c.run(page, "GET", target)
    name = found.get("friendly_name") or found.get("unique_name") or found.get("identity")
    return _show(c, page, "confirm.html", {}, 200, target=target, back=back, found=found, name=name)


async def channels(c: Console, page: Page) -> Response:
    path = _service(page) + "/Channels"
    svc = page.request.path_params["svc"]
    done, errors, status = await _submit(
        c,
        page,
        path,
        lambda out: redirect(f"{PREFIX}/services/{svc}/channels/{out['sid']}", "created"),
    )
    if done:
        return done
    service = await c.run(page, "GET", _service(page))
    text = page.request.query_params.get("q", "").strip()
    found = None
    listing = None
    if text:
        async with c.store.read() as tx:
            rows = await channel_domain.search(tx, service["sid"], text, SEARCH_MAX)
        found = [channel_api.CHANNEL.render(row, c.api.base_url) for row in rows]
    else:
        query = [("Type", "public"), ("Type", "private"), *_paging(page)]
        listing = await c.run(page, "GET", path, query)
    return _show(
        c,
        page,
        "channels.html",
        errors,
        status,
        service=service,
        q=text,
        found=found,
        listing=listing,
    )


async def _channel_context(c: Console, page: Page) -> dict[str, Any]:
    service = await c.run(page, "GET", _service(page))
    found = await c.run(page, "GET", _channel(page))
    cbase = f"{PREFIX}/services/{service['sid']}/channels/{found['sid']}"
    return {"service": service, "channel": found, "cbase": cbase}


async def _messages(c: Console, page: Page) -> dict[str, Any]:
    """A page of messages, newest last: REST's list in descending order, reversed."""
    query = [("Order", "desc"), *_paging(page, MESSAGES_PAGE)]
    listing = await c.run(page, "GET", _channel(page) + "/Messages", query)
    return {
        "messages": list(reversed(listing["messages"])),
        "older": page_token(listing["meta"]["next_page_url"]),
        "newer": page_token(listing["meta"]["previous_page_url"]),
        "live": "PageToken" not in page.request.query_params,
    }


async def channel(c: Console, page: Page) -> Response:
    done, errors, status = await _submit(
        c, page, _channel(page) + "/Messages", lambda out: redirect(_here(page), "posted")
    )
    if done:
        return done
    context = await _channel_context(c, page)
    return _show(c, page, "channel.html", errors, status, **context, **await _messages(c, page))


async def live_messages(c: Console, page: Page) -> Response:
    """The newest messages alone, for the channel page's htmx polling."""
    return _show(
        c,
        page,
        "_messages.html",
        {},
        200,
        **await _channel_context(c, page),
        **await _messages(c, page),
    )


async def channel_edit(c: Console, page: Page) -> Response:
    done, errors, status = await _submit(
        c, page, _channel(page), lambda out: redirect(_here(page), "saved")
    )
    if done:
        return done
    return _show(c, page, "channel_edit.html", errors, status, **await _channel_context(c, page))


async def message(c: Console, page: Page) -> Response:
    path = f"{_channel(page)}/Messages/{page.request.path_params['msg']}"
    back = _here(page).rsplit("/messages/", 1)[0]
    done, errors, status = await _submit(c, page, path, lambda out: redirect(back, "saved"))
    if done:
        return done
    context = await _channel_context(c, page)
    found = await c.run(page, "GET", path)
    return _show(c, page, "message.html", errors, status, **context, message=found, back=back)


async def members(c: Console, page: Page) -> Response:
    path = _channel(page) + "/Members"
    done, errors, status = await _submit(
        c, page, path, lambda out: redirect(_here(page), "created")
    )
    if done:
        return done
    context = await _channel_context(c, page)
    listing = await c.run(page, "GET", path, _paging(page))
    roles = await c.every(page, _service(page) + "/Roles", "roles")
    return _show(c, page, "members.html", errors, status, **context, listing=listing, roles=roles)


async def channel_webhooks(c: Console, page: Page) -> Response:
    path = _channel(page) + "/Webhooks"
    done, errors, status = await _submit(
        c, page, path, lambda out: redirect(_here(page), "created")
    )
    if done:
        return done
    context = await _channel_context(c, page)
    webhooks = await c.every(page, path, "webhooks")
    return _show(c, page, "channel_webhooks.html", errors, status, **context, webhooks=webhooks)


async def users(c: Console, page: Page) -> Response:
    path = _service(page) + "/Users"
    done, errors, status = await _submit(
        c, page, path, lambda out: redirect(f"{_here(page)}/{out['sid']}", "created")
    )
    if done:
        return done
    service = await c.run(page, "GET", _service(page))
    listing = await c.run(page, "GET", path, _paging(page))
    roles = await c.every(page, _service(page) + "/Roles", "roles")
    return _show(
        c, page, "users.html", errors, status, service=service, listing=listing, roles=roles
    )


async def user(c: Console, page: Page) -> Response:
    path = f"{_service(page)}/Users/{page.request.path_params['user']}"
    done, errors, status = await _submit(c, page, path, lambda out: redirect(_here(page), "saved"))
    if done:
        return done
    service = await c.run(page, "GET", _service(page))
    found = await c.run(page, "GET", path)
    joined = await c.run(page, "GET", path + "/Channels", _paging(page))
    names: dict[str, str] = {}
    for entry in joined["channels"]:  # a page of at most 50
        channel_sid = entry["channel_sid"]
        try:
            named = await c.run(page, "GET", f"{_service(page)}/Channels/{channel_sid}")
        except TwilioError:  # deleted since the list was read
            continue
        names[channel_sid] = named["friendly_name"] or named["unique_name"] or channel_sid
    roles = await c.every(page, _service(page) + "/Roles", "roles")
    return _show(
        c,
        page,
        "user.html",
        errors,
        status,
        service=service,
        user=found,
        joined=joined,
        names=names,
        roles=roles,
    )


async def roles(c: Console, page: Page) -> Response:
    path = _service(page) + "/Roles"
    done, errors, status = await _submit(
        c, page, path, lambda out: redirect(f"{_here(page)}/{out['sid']}", "created")
    )
    if done:
        return done
    service = await c.run(page, "GET", _service(page))
    found = await c.every(page, path, "roles")
    return _show(c, page, "roles.html", errors, status, service=service, roles=found)


async def role(c: Console, page: Page) -> Response:
    path = f"{_service(page)}/Roles/{page.request.path_params['role']}"
    done, errors, status = await _submit(c, page, path, lambda out: redirect(_here(page), "saved"))
    if done:
        return done
    service = await c.run(page, "GET", _service(page))
    found = await c.run(page, "GET", path)
    return _show(c, page, "role.html", errors, status, service=service, role=found)


async def credentials(c: Console, page: Page) -> Response:
    path = "/v2/Credentials"
    done, errors, status = await _submit(
        c, page, path, lambda out: redirect(_here(page), "created")
    )
    if done:
        return done
    found = await c.every(page, path, "credentials")
    return _show(c, page, "credentials.html", errors, status, credentials=found)


RECENT = 50


def _push(row: push_outbox.Push) -> dict[str, Any]:
    shown = push_routes.describe(row)
    if not row["log_enabled"]:
        shown["body"] = None
    return shown


async def deliveries(c: Console, page: Page) -> Response:
    """The service's most recent webhook deliveries, with their attempts, and
    pushes, newest first. A push's text is shown only if it was logged: the
    service's ``Notifications.LogEnabled`` when it was planned (docs/console.md)."""
    service = await c.run(page, "GET", _service(page))
    account, sid = page.session.account_sid, service["sid"]
    async with c.store.read() as tx:
        found = await double.deliveries(
            tx, account, service_sid=sid, limit=RECENT, newest_first=True
        )
        rows = await push_outbox.listing(
            tx, account, service_sid=sid, limit=RECENT, newest_first=True
        )
    pushes = [_push(r) for r in rows]
    return _show(
        c, page, "deliveries.html", {}, 200, service=service, deliveries=found, pushes=pushes
    )


async def sign_out(c: Console, page: Page) -> Response:
    await sessions.close(c.store, page.session)
    response = redirect(PREFIX + "/sign-in", "signed-out")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


ROUTES: list[tuple[str, Any]] = [
    ("/services", services),
    ("/delete", delete),
    ("/credentials", credentials),
    ("/services/{svc}", settings),
    ("/services/{svc}/channels", channels),
    ("/services/{svc}/channels/{ch}", channel),
    ("/services/{svc}/channels/{ch}/live", live_messages),
    ("/services/{svc}/channels/{ch}/edit", channel_edit),
    ("/services/{svc}/channels/{ch}/members", members),
    ("/services/{svc}/channels/{ch}/webhooks", channel_webhooks),
    ("/services/{svc}/channels/{ch}/messages/{msg}", message),
    ("/services/{svc}/users", users),
    ("/services/{svc}/users/{user}", user),
    ("/services/{svc}/roles", roles),
    ("/services/{svc}/roles/{role}", role),
    ("/services/{svc}/deliveries", deliveries),
]
