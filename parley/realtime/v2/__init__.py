"""Protocol version 2: the session-list clients, twilio-chat 2.x-4.x
(docs/realtime-protocol.md §9).

::

    POST /v3/Lists {purpose: com.twilio.rtd.ipmsg}  -> session.create: the caller's
                                                       session list, its context as event 1
    GET  /v3/Lists/{id}/Context                     -> session.context
    POST /v3/Lists/{id}/Items {data: {commandId, request: {action, …}}}
                                                    -> session.command: commands.plan maps
                                                       the action onto version 1's client
                                                       actions, run by name
    GET  …/Channels, …/Users/{me}/Channels[Sync], POST /v1/typing
                                                    -> reads: version 1's reads, renamed
    POST /v1/token {fpa_token}                      -> ems: 2.x's token exchange

Nothing here decides who may do what: every command is version 1's client
actions performed by name (``Actions``), every read a version 1 endpoint called
by path (dispatch.py), with the caller's own session.
"""

from parley.realtime.chat.actions import Actions
from parley.realtime.tunnel import Routes
from parley.realtime.v2 import ems, reads, session


def register(routes: Routes, actions: Actions) -> None:
    session.register(routes, actions)
    reads.register(routes)
    ems.register(routes)
