"""The EMS token exchange of twilio-chat 2.x (docs/realtime-protocol.md §9.1):
``POST /v1/token {fpa_token, continuation_token}``, tunnelled like every other
request once the socket is up.

Twilio exchanged the access token for a separate real-time token; Parley's
socket is authenticated with the access token itself, so that token is the
answer's ``twilio_rtd_token`` (Parley's choice). The token is validated as
an ``update`` is (§4): it must name the socket's account, service and identity.
"""

import time
import uuid

from parley.errors import TwilioError
from parley.realtime import tokens
from parley.realtime.tunnel import Request, Response, Routes

PRODUCT = "ip_messaging"  # the key twilio-sync 0.7 reads from instance_sids


async def exchange(request: Request) -> Response:
    body = request.body if isinstance(request.body, dict) else {}
    token = body.get("fpa_token")
    if not isinstance(token, str) or not token:
        raise TwilioError(20001, name="fpa_token", missing=True)
    current = request.session.grant
    assert current is not None
    async with request.runtime.store.read() as tx:
        grant = await tokens.validate(tx, token)  # 401 / 201xx: the SDK ends "denied"
    if (grant.account_sid, grant.service_sid, grant.identity) != (
        current.account_sid,
        current.service_sid,
        current.identity,
    ):
        raise TwilioError(20106)  # another identity's token: as for update (§4)
    continued = body.get("continuation_token")
    if not isinstance(continued, str) or not continued:
        continued = None
    answer = {
        "twilio_rtd_token": token,
        "ttl": max(0, grant.expires - int(time.time())),
        "status": {"status": "UPDATED" if continued else "NEW"},
        "identity": grant.identity,
        "account_sid": grant.account_sid,
        "instance_sids": {PRODUCT: grant.service_sid},
        "continuation_token": continued or "CT" + uuid.uuid4().hex,
    }
    return Response(200, answer)


def register(routes: Routes) -> None:
    routes.add("POST", "/v1/token", exchange)
