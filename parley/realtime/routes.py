"""Every tunnelled endpoint, in one list (routed by path; see tunnel.py), and
every client action by name (what other protocols and the simulations
dispatch through)."""

from parley.realtime import sync_http, v2
from parley.realtime.chat import channels, members, messages, registrations, users
from parley.realtime.chat.actions import Actions
from parley.realtime.tunnel import Routes


def build() -> Routes:
    routes = Routes()
    sync_http.register(routes)
    users.register(routes)
    channels.register(routes)
    members.register(routes)
    messages.register(routes)
    registrations.register_routes(routes)
    v2.register(routes, actions())  # docs/realtime-protocol.md §9
    return routes


def actions() -> Actions:
    return Actions([*channels.ACTIONS, *members.ACTIONS, *messages.ACTIONS, *users.ACTIONS])
