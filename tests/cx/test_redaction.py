"""What the console records never carries a secret."""

from apps.cx.redaction import REDACTED, redact, redact_headers, redact_text


def test_secret_keys_are_blanked_at_any_depth():
    body = {"name": "x", "client_secret": "abc", "nested": [{"access_token": "t0k3n", "ok": 1}]}
    assert redact(body) == {"name": "x", "client_secret": REDACTED, "nested": [{"access_token": REDACTED, "ok": 1}]}


def test_hook_url_secrets_are_hidden_in_text():
    url = "https://console.example.com/hooks/bot/AbC-123_xyz/?a=1"
    assert redact_text(url) == f"https://console.example.com/hooks/bot/{REDACTED}/?a=1"


def test_authorization_headers_are_hidden():
    assert redact_headers({"Authorization": "Bearer x", "Accept": "json"}) == {
        "Authorization": REDACTED,
        "Accept": "json",
    }


def test_ordinary_values_pass_through():
    assert redact({"outgoing_url": "https://bots.example.com/in", "priority": 2}) == {
        "outgoing_url": "https://bots.example.com/in",
        "priority": 2,
    }
