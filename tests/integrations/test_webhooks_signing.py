"""The three signature schemes, against signatures made the way each sender makes them
(GitHub's and Stripe's documented algorithms written out here; Standard Webhooks by its
reference library), and the backoff of outbound retries."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook as Reference

from vitco.integrations.webhooks import (
    BadSignature,
    StaleSignature,
    backoff,
    new_secret,
    standard_headers,
    verify_hub,
    verify_standard,
    verify_timestamped,
)

BODY = b'{"action":"labeled"}'
NOW = 1_760_000_000


def _github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _stripe(secret: str, body: bytes, t: int) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def test_github_signature_good_bad_and_missing() -> None:
    verify_hub("s3cret", BODY, _github("s3cret", BODY))
    for header, reason in [
        (_github("other", BODY), "does not match"),
        (_github("s3cret", BODY + b" "), "does not match"),
        ("sha1=" + "0" * 40, "form"),
        (None, "missing"),
    ]:
        with pytest.raises(BadSignature, match=reason):
            verify_hub("s3cret", BODY, header)


def test_stripe_signature_with_tolerance_and_rolled_secrets() -> None:
    secret = "whsec_test"
    assert verify_timestamped(secret, BODY, _stripe(secret, BODY, NOW), now=NOW + 299) == NOW
    rolled = _stripe("old", BODY, NOW) + "," + _stripe(secret, BODY, NOW).split(",")[1]
    assert verify_timestamped(secret, BODY, rolled, now=NOW) == NOW
    with pytest.raises(StaleSignature) as stale:
        verify_timestamped(secret, BODY, _stripe(secret, BODY, NOW), now=NOW + 301)
    assert stale.value.age_s == 301
    with pytest.raises(BadSignature, match="does not match"):
        verify_timestamped(secret, BODY, _stripe("wrong", BODY, NOW), now=NOW)
    for header in ("v1=abc", f"t=x,v1={'0' * 64}", "", None):
        with pytest.raises(BadSignature):
            verify_timestamped(secret, BODY, header, now=NOW)


def test_standard_webhooks_interoperate_with_the_reference_library() -> None:
    secret = new_secret()
    reference = Reference(secret)
    when = datetime.now(UTC)
    t = int(when.timestamp())
    # vitco signs, the reference verifies
    headers = standard_headers(secret, "whd-1", t, BODY)
    assert reference.verify(BODY, headers) is not None
    # the reference signs, vitco verifies and answers the signed id
    theirs = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(t),
        "webhook-signature": reference.sign("msg_2", when, BODY),
    }
    assert verify_standard(secret, BODY, theirs, now=t) == "msg_2"
    moved = theirs | {"webhook-id": "msg_3"}  # the id is signed: it cannot be changed
    with pytest.raises(BadSignature, match="does not match"):
        verify_standard(secret, BODY, moved, now=t)
    with pytest.raises(StaleSignature):
        verify_standard(secret, BODY, theirs, now=t + 301)
    with pytest.raises(BadSignature, match="missing"):
        verify_standard(secret, BODY, {"webhook-id": "m"}, now=t)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    rand = random.Random(7).random
    waits = [backoff(n, 2.0, 60.0, rand) for n in range(1, 9)]
    for n, wait in enumerate(waits, start=1):
        full = min(60.0, 2.0 * 2 ** (n - 1))
        assert full / 2 <= wait <= full, (n, wait)
    assert backoff(3, 2.0, 60.0, lambda: 0.0) == 4.0
    assert backoff(3, 2.0, 60.0, lambda: 1.0) == 8.0
