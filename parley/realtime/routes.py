"""Every tunnelled endpoint, in one list (routed by path; see tunnel.py)."""

from parley.realtime.tunnel import Routes
from parley.sync import http as sync_http


def build() -> Routes:
    routes = Routes()
    sync_http.register(routes)
    return routes
