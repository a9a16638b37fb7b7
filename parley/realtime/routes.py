"""Every tunnelled endpoint, in one list (routed by path; see tunnel.py)."""

from parley.realtime.tunnel import Routes


def build() -> Routes:
    routes = Routes()
    return routes
