"""The duplicate detection cache: what counts as the same request, how long and how many replies
are kept, and requests in progress. https://www.rfc-editor.org/rfc/rfc5080#section-2.2.2"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.radius.dedup import (
    DEFAULT_LIFETIME,
    DuplicateCache,
    RequestKey,
    Seen,
    Status,
    request_key,
)
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, encode

D = default_dictionary()
SECRET = b"12345"
AUTHENTICATOR = bytes(range(16))
KEY = RequestKey("10.0.0.2", 40000, Code.ACCESS_REQUEST, 7, AUTHENTICATOR)


def test_the_key_is_address_port_code_identifier_and_authenticator() -> None:
    # RFC 5080 2.2.2: source address, source port, Identifier, Request Authenticator (+ Code).
    data = encode(build(D, Code.ACCESS_REQUEST, 7, AUTHENTICATOR, [("User-Name", "test")]), SECRET)
    assert request_key(data, "10.0.0.2", 40000) == KEY


def test_a_packet_without_a_header_has_no_key() -> None:
    assert request_key(bytes(19), "10.0.0.2", 1) is None


def test_accounting_requests_differ_by_their_computed_authenticator() -> None:
    # RFC 2866 3: the Request Authenticator is an MD5 over the packet, so the same Identifier
    # with other contents is another request, and the same octets are the same request.
    def accounting(status: str) -> bytes:
        pkt = build(D, Code.ACCOUNTING_REQUEST, 3, bytes(16), [("Acct-Status-Type", status)])
        return encode(pkt, SECRET)

    start, stop = accounting("Start"), accounting("Stop")
    assert request_key(start, "10.0.0.2", 1) == request_key(accounting("Start"), "10.0.0.2", 1)
    assert request_key(start, "10.0.0.2", 1) != request_key(stop, "10.0.0.2", 1)


def test_a_retransmission_gets_the_reply_sent() -> None:
    cache = DuplicateCache()
    assert cache.check(KEY, now=0.0) == Seen(Status.NEW)
    cache.finish(KEY, b"reply", now=0.5)
    assert cache.check(KEY, now=1.0) == Seen(Status.ANSWERED, b"reply")
    assert cache.check(KEY, now=2.0) == Seen(Status.ANSWERED, b"reply")


def test_a_retransmission_while_the_first_is_decided_is_dropped() -> None:
    cache = DuplicateCache()
    assert cache.check(KEY, now=0.0).status is Status.NEW
    assert cache.check(KEY, now=0.1) == Seen(Status.IN_PROGRESS)
    cache.finish(KEY, b"reply", now=0.2)
    assert cache.check(KEY, now=0.3) == Seen(Status.ANSWERED, b"reply")


@pytest.mark.parametrize(
    "other",
    [
        RequestKey("10.0.0.3", 40000, Code.ACCESS_REQUEST, 7, AUTHENTICATOR),
        RequestKey("10.0.0.2", 40001, Code.ACCESS_REQUEST, 7, AUTHENTICATOR),
        RequestKey("10.0.0.2", 40000, Code.STATUS_SERVER, 7, AUTHENTICATOR),
        RequestKey("10.0.0.2", 40000, Code.ACCESS_REQUEST, 8, AUTHENTICATOR),
        RequestKey("10.0.0.2", 40000, Code.ACCESS_REQUEST, 7, bytes(16)),
    ],
)
def test_any_part_of_the_key_makes_another_request(other: RequestKey) -> None:
    cache = DuplicateCache()
    cache.check(KEY, now=0.0)
    cache.finish(KEY, b"reply", now=0.0)
    assert cache.check(other, now=0.0).status is Status.NEW


def test_a_reply_is_kept_for_the_lifetime_after_it_was_sent() -> None:
    cache = DuplicateCache(lifetime=30.0)
    cache.check(KEY, now=100.0)
    cache.finish(KEY, b"reply", now=105.0)
    assert cache.check(KEY, now=134.9).status is Status.ANSWERED
    assert cache.check(KEY, now=135.0).status is Status.NEW
    assert DEFAULT_LIFETIME == 30.0


def test_a_request_in_progress_expires_too() -> None:
    cache = DuplicateCache(lifetime=5.0)
    cache.check(KEY, now=0.0)
    assert cache.check(KEY, now=4.0).status is Status.IN_PROGRESS
    assert cache.check(KEY, now=5.0).status is Status.NEW


def test_a_forgotten_request_is_new_again() -> None:
    cache = DuplicateCache()
    cache.check(KEY, now=0.0)
    cache.forget(KEY, now=0.05)
    assert KEY not in cache
    assert cache.check(KEY, now=0.1).status is Status.NEW
    cache.forget(RequestKey("10.0.0.9", 1, 1, 1, bytes(16)), now=0.2)  # unknown: nothing happens


def test_the_oldest_entry_goes_when_the_cache_is_full() -> None:
    cache = DuplicateCache(capacity=2)
    keys = [RequestKey("10.0.0.2", 1, Code.ACCESS_REQUEST, n, AUTHENTICATOR) for n in range(3)]
    for n, key in enumerate(keys):
        cache.check(key, now=float(n))
        cache.finish(key, bytes([n]), now=float(n))
    assert len(cache) == 2
    assert keys[0] not in cache
    assert cache.check(keys[1], now=3.0) == Seen(Status.ANSWERED, b"\x01")
    assert cache.check(keys[2], now=3.0) == Seen(Status.ANSWERED, b"\x02")


def test_finishing_refreshes_the_age_of_an_entry() -> None:
    cache = DuplicateCache(capacity=2)
    first = RequestKey("10.0.0.2", 1, Code.ACCESS_REQUEST, 1, AUTHENTICATOR)
    second = RequestKey("10.0.0.2", 1, Code.ACCESS_REQUEST, 2, AUTHENTICATOR)
    cache.check(first, now=0.0)
    cache.check(second, now=1.0)
    cache.finish(first, b"first", now=2.0)  # now the younger of the two
    cache.check(KEY, now=3.0)
    assert first in cache
    assert second not in cache


@pytest.mark.parametrize(("lifetime", "capacity"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_a_cache_needs_a_positive_lifetime_and_capacity(lifetime: float, capacity: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        DuplicateCache(lifetime=lifetime, capacity=capacity)


_keys = st.builds(
    RequestKey,
    st.sampled_from(["10.0.0.2", "10.0.0.3"]),
    st.integers(1, 2),
    st.sampled_from([Code.ACCESS_REQUEST, Code.ACCOUNTING_REQUEST]),
    st.integers(0, 3),
    st.sampled_from([bytes(16), AUTHENTICATOR]),
)
_steps = st.lists(
    st.tuples(st.sampled_from(["check", "finish", "forget"]), _keys, st.floats(0, 10)),
    max_size=60,
)


@settings(max_examples=200)
@given(_steps, st.integers(1, 8))
def test_the_cache_agrees_with_a_plain_model(
    steps: list[tuple[str, RequestKey, float]], capacity: int
) -> None:
    """Against a dictionary of (expiry, reply, order) with the same rules, step by step."""
    cache = DuplicateCache(lifetime=3.0, capacity=capacity)
    model: dict[RequestKey, tuple[float, bytes | None]] = {}
    now = 0.0
    for n, (verb, key, advance) in enumerate(steps):
        now += advance
        model = {k: v for k, v in model.items() if v[0] > now}
        if verb == "check":
            seen = cache.check(key, now)
            if key in model:
                reply = model[key][1]
                assert seen == (
                    Seen(Status.IN_PROGRESS) if reply is None else Seen(Status.ANSWERED, reply)
                )
            else:
                assert seen == Seen(Status.NEW)
                model.pop(key, None)
                model[key] = (now + 3.0, None)
        elif verb == "finish":
            reply = n.to_bytes(2)
            cache.finish(key, reply, now)
            model.pop(key, None)
            model[key] = (now + 3.0, reply)
        else:
            cache.forget(key, now)
            model.pop(key, None)
        while len(model) > capacity:
            del model[next(iter(model))]
        assert len(cache) == len(model)
        assert all(k in cache for k in model)
