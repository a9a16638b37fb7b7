"""Every tunnelled endpoint, in one list (routed by path; see tunnel.py)."""

from parley.realtime import sync_http
from parley.realtime.chat import channels, members, messages, registrations, users
from parley.realtime.tunnel import Routes


def build() -> Routes:
    routes = Routes()
    sync_http.register(routes)
    users.register(routes)
    channels.register(routes)
    members.register(routes)
    messages.register(routes)
    registrations.register_routes(routes)
    return routes
