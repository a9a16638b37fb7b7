"""``X-Twilio-Signature``: what Twilio's helper libraries verify (docs/behaviour.md §W7).

Byte for byte what ``twilio.request_validator.RequestValidator`` computes:
HMAC-SHA1 keyed with the account's Auth Token over the exact URL requested
followed by every POST parameter as ``name + value``, names in code-point
order (values of one name sorted and de-duplicated, as the validator does).
A GET request carries its parameters in the query string, so it signs the
full URL and no parameters.
"""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlencode

HEADER = "X-Twilio-Signature"


def sign(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    text = url
    for name in sorted(params or {}):
        text += name + str((params or {})[name])
    mac = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def with_query(url: str, params: Mapping[str, str]) -> str:
    """The GET form: parameters appended to the URL's query (``&`` if it has one)."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def request(
    auth_token: str, url: str, method: str, params: Mapping[str, str]
) -> tuple[str, bytes | None, str]:
    """(URL to request, form body or None, signature) for one webhook call."""
    if method.upper() == "GET":
        full = with_query(url, params)
        return full, None, sign(auth_token, full)
    return url, urlencode(params).encode("utf-8"), sign(auth_token, url, params)
