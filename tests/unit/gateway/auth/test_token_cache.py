"""The verified-token cache: bounded by the token's exp (plus leeway), by age and by size."""

from __future__ import annotations

from typing import Any

from gateway.auth.bearer import Principal
from gateway.auth.token_cache import VerifiedTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def principal(**claims: Any) -> Principal:
    return Principal("alice", frozenset({"r"}), claims)


def test_a_token_is_served_until_exp_plus_leeway() -> None:
    clock = Clock()
    cache = VerifiedTokens(leeway=5, max_age=3600, clock=clock)
    alice = principal(exp=clock.now + 10)
    cache.put("t", alice)
    assert cache.get("t") is alice
    clock.now += 14.9
    assert cache.get("t") is alice
    clock.now += 0.2
    assert cache.get("t") is None and len(cache) == 0


def test_an_entry_lives_at_most_max_age() -> None:
    clock = Clock()
    cache = VerifiedTokens(leeway=0, max_age=60, clock=clock)
    cache.put("t", principal(exp=clock.now + 3600))
    clock.now += 59
    assert cache.get("t") is not None
    clock.now += 2
    assert cache.get("t") is None


def test_tokens_without_a_numeric_exp_or_already_expired_are_not_kept() -> None:
    clock = Clock()
    cache = VerifiedTokens(leeway=0, clock=clock)
    for exp in ("9999999999", None, True, clock.now - 1):
        cache.put("t", principal(exp=exp))
        assert cache.get("t") is None


def test_the_least_recently_used_token_is_evicted_first() -> None:
    clock = Clock()
    cache = VerifiedTokens(leeway=0, max_entries=2, clock=clock)
    for token in ("a", "b"):
        cache.put(token, principal(exp=clock.now + 60))
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", principal(exp=clock.now + 60))
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None


def test_different_tokens_do_not_share_an_entry() -> None:
    cache = VerifiedTokens(leeway=0)
    cache.put("one", principal(exp=9e9))
    assert cache.get("two") is None
