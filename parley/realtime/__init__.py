"""The real-time client protocol: what the unmodified ``twilio-chat`` JS SDK speaks.

::

    access token (tokens.py) -> twilsock gateway (gateway.py, frames.py)
        -> tunnelled requests routed by path (tunnel.py)
             -> Sync view (parley.sync) and chat client endpoints

See docs/realtime-protocol.md and /work/shared/reference/client-protocol.md.
"""
