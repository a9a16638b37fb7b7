"""The real-time client protocol: what the unmodified ``twilio-chat`` JS SDK speaks.

::

    access token (tokens.py) -> twilsock gateway (gateway.py, frames.py)
        -> tunnelled requests routed by path (tunnel.py, routes.py)
             -> Sync endpoints (sync_http.py) over the view (parley.sync),
                subscriptions and their live fan-out (subscriptions.py)
             -> chat client endpoints (chat/)
    presence (presence.py, chat/reachability.py) and typing (a bus signal)
    hold across processes

See docs/realtime-protocol.md.
"""
