"""Every tunnelled endpoint, in one list (routed by path; see tunnel.py)."""

from parley.realtime import v2
from parley.realtime.chat import channels, members, messages, registrations, users
from parley.realtime.tunnel import Routes
from parley.sync import http as sync_http


def build() -> Routes:
    routes = Routes()
    sync_http.register(routes)
    users.register(routes)
    channels.register(routes)
    members.register(routes)
    messages.register(routes)
    registrations.register_routes(routes)
    v2.register(routes)  # docs/realtime-protocol.md §9
    return routes
