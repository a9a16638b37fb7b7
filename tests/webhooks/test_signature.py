"""X-Twilio-Signature exactly as the SDK's RequestValidator checks it (docs/behaviour.md §W7)."""

from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator

from parley.webhooks import signature

URL = "https://example.com/chat/post-hook"
PARAMS = {
    "EventType": "onMessageSent",
    "ChannelSid": "CH00000000000000000000000000000000",
    "Body": "hi there",
    "Index": "3",
}


def test_worked_example_post() -> None:
    signed = signature.sign("12345", URL, PARAMS)
    assert signed == "hGmy3UoL3jAnDd756CbJ80XJ03I="
    validator = RequestValidator("12345")
    assert validator.validate(URL, PARAMS, signed)
    # the validator also accepts the URL with the default port spelled out
    assert validator.validate("https://example.com:443/chat/post-hook", PARAMS, signed)
    assert not validator.validate(URL, {**PARAMS, "Index": "4"}, signed)
    assert not RequestValidator("54321").validate(URL, PARAMS, signed)


def test_worked_example_get() -> None:
    url, body, signed = signature.request("12345", URL, "GET", PARAMS)
    assert body is None
    assert url == (
        URL + "?EventType=onMessageSent&ChannelSid=CH00000000000000000000000000000000"
        "&Body=hi+there&Index=3"
    )
    assert signed == "hw1fCvShfUlQ4lbBaDHU4b0oKik="
    assert RequestValidator("12345").validate(url, {}, signed)


def test_post_request_body_and_existing_query() -> None:
    url, body, signed = signature.request("tok", URL + "?a=1", "POST", {"Body": "é & ü"})
    assert url == URL + "?a=1"
    assert body is not None
    assert dict(parse_qsl(body.decode())) == {"Body": "é & ü"}
    assert RequestValidator("tok").validate(url, {"Body": "é & ü"}, signed)
    get_url, _, get_signed = signature.request("tok", URL + "?a=1", "GET", {"B": "x y"})
    assert urlsplit(get_url).query == "a=1&B=x+y"
    assert RequestValidator("tok").validate(get_url, {}, get_signed)
