"""Passwords: policy, argon2id hashing off the event loop, and recovery codes.

Only one hash in this file uses the real (default) cost; the rest use argon2's CHEAPEST profile.
"""

import asyncio
import math
import re
import threading
import time

import pytest
from argon2 import PasswordHasher, Type, extract_parameters, profiles

from forum import passwords
from forum.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    RECOVERY_ALPHABET,
    Hasher,
    PasswordPolicyError,
    check_policy,
    common_passwords,
    generate_recovery_code,
    normalize_recovery_code,
)


def policy_code(password: str, **kwargs) -> str:
    with pytest.raises(PasswordPolicyError) as caught:
        check_policy(password, **kwargs)
    return caught.value.code


# --- policy ------------------------------------------------------------------------------


def test_length_bounds():
    assert (MIN_LENGTH, MAX_LENGTH) == (10, 1024)
    assert policy_code("kT7#vq2!x") == "too_short"  # 9
    check_policy("kT7#vq2!xZ")  # 10
    long_enough = ("kT7#vq2!xZ" * 103)[:1024]
    assert len(long_enough) == 1024
    check_policy(long_enough)
    assert policy_code(long_enough + "a") == "too_long"  # 1025
    assert policy_code("") == "empty"


def test_length_counts_code_points_and_keeps_any_unicode():
    check_policy("çàéèùœ€日本語")  # 10 code points, more bytes
    assert policy_code("çàéèùœ€日本") == "too_short"
    check_policy("  espaces   compris  ")


def test_oversized_password_is_refused_quickly():
    start = time.perf_counter()
    assert policy_code("a" * (1024 * 1024)) == "too_long"
    assert time.perf_counter() - start < 0.1


def test_nul_is_refused():
    assert policy_code("gT4!nulbyte\x00zz") == "invalid_chars"


def test_common_list_is_large_lowercase_and_skips_comments():
    common = common_passwords()
    assert len(common) >= 10_000
    assert all(entry == entry.casefold() for entry in common)
    assert not any(entry.startswith("#") for entry in common)
    for french in ["motdepasse", "soleil", "doudou", "chouchou", "azertyuiop", "marseille"]:
        assert french in common


@pytest.mark.parametrize(
    "password",
    [
        "password123", "Password123", "PASSWORD123", "qwertyuiop", "QwErTyUiOp", "1234567890",
        "azertyuiop", "Azertyuiop", "MotDePasse", "motdepasse123", "JeTaimeMonAmour",
        "iloveyou12", "manchester",
    ],
)  # fmt: skip
def test_common_passwords_are_refused_whatever_the_case(password):
    assert policy_code(password) == "common"


def test_sample_of_the_shipped_list_is_refused():
    """AUTH-04: entries sampled across the list are all refused (by length or as common)."""
    entries = sorted(common_passwords())
    for entry in entries[:: max(1, len(entries) // 50)]:
        assert policy_code(entry) in {"common", "too_short", "invalid_chars"}


def test_password_equal_to_pseudonym_is_refused():
    assert policy_code("Tilleul_Paisible42", pseudonym="tilleul_paisible42") == "common"
    check_policy("Tilleul_Paisible42!", pseudonym="Tilleul_Paisible42")
    check_policy("a fine long passphrase", pseudonym=None)


def test_no_truncation_and_case_is_kept():
    check_policy("Un Mot De Passe Assez Long")
    assert "un mot de passe assez long" != "Un Mot De Passe Assez Long"


# --- hashing -----------------------------------------------------------------------------


async def test_default_hasher_is_argon2id_with_library_defaults_and_keeps_the_loop_ticking():
    """The only real-cost hash of the suite (AUTH-01)."""
    hasher = Hasher()
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.005)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    stored = await hasher.hash("un mot de passe solide")
    elapsed = time.perf_counter() - started
    done.set()
    await ticking

    params = extract_parameters(stored)
    default = PasswordHasher()
    assert params.type is Type.ID
    assert params.time_cost == default.time_cost >= 2
    assert params.memory_cost == default.memory_cost >= 19_456
    assert params.parallelism == default.parallelism
    assert params.salt_len >= 16
    assert params.hash_len == default.hash_len
    # The loop ran many times while the hash was computed in a thread.
    assert ticks >= max(3, int(elapsed / 0.005) // 4)
    assert not hasher.needs_rehash(stored)
    # The dummy hash has exactly the same parameters, so verifying it costs the same.
    assert extract_parameters(hasher.dummy_hash) == params


async def test_cheap_hasher_round_trip():
    hasher = Hasher(cheap=True)
    stored = await hasher.hash("correct horse battery")
    assert extract_parameters(stored).type is Type.ID
    assert await hasher.verify(stored, "correct horse battery")
    assert not await hasher.verify(stored, "correct horse batterY")
    assert not await hasher.verify(stored, "correct horse battery ")
    other = await hasher.hash("correct horse battery")
    assert other != stored  # a fresh salt each time


async def test_verify_without_hash_verifies_a_dummy_and_returns_false(monkeypatch):
    hasher = Hasher(cheap=True)
    calls: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, stored, password):
        calls.append(stored)
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    assert await hasher.verify(None, "whatever password") is False
    assert calls == [hasher.dummy_hash]
    assert extract_parameters(hasher.dummy_hash) == extract_parameters(
        PasswordHasher.from_parameters(profiles.CHEAPEST).hash("x")
    )


async def test_verify_with_a_malformed_hash_returns_false_after_a_dummy_verify(monkeypatch):
    hasher = Hasher(cheap=True)
    calls: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, stored, password):
        calls.append(stored)
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    assert await hasher.verify("not-a-hash", "whatever password") is False
    assert calls[-1] == hasher.dummy_hash


async def test_needs_rehash_for_a_cheap_hash_under_the_default_hasher():
    cheap_hash = await Hasher(cheap=True).hash("un mot de passe solide")
    assert Hasher().needs_rehash(cheap_hash)
    assert not Hasher(cheap=True).needs_rehash(cheap_hash)
    assert Hasher().needs_rehash("garbage")


async def test_concurrent_hashes_are_bounded(monkeypatch):
    hasher = Hasher(cheap=True, max_concurrent=2)
    lock = threading.Lock()
    running = 0
    peak = 0
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def slow_hash(self, password):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        time.sleep(0.05)
        with lock:
            running -= 1
        return f"hashed:{password}"

    monkeypatch.setattr(PasswordHasher, "hash", slow_hash)
    results = await asyncio.gather(*(hasher.hash(f"password {i}") for i in range(6)))
    assert results == [f"hashed:password {i}" for i in range(6)]
    assert peak == 2
    assert loop_thread not in threads


def test_limiter_is_created_per_event_loop():
    """The same Hasher works from several event loops (tests make one per test)."""
    hasher = Hasher(cheap=True, max_concurrent=1)

    async def round_trip() -> bool:
        stored = await hasher.hash("un mot de passe solide")
        return await hasher.verify(stored, "un mot de passe solide")

    assert asyncio.run(round_trip())
    assert asyncio.run(round_trip())


def test_max_concurrent_must_be_positive():
    with pytest.raises(ValueError):
        Hasher(max_concurrent=0)


def test_only_this_module_imports_argon2():
    from pathlib import Path

    root = Path(passwords.__file__).resolve().parent.parent
    offenders = [
        path
        for package in ("forum", "moderation")
        if (root / package).is_dir()
        for path in (root / package).rglob("*.py")
        if re.search(r"^\s*(import|from)\s+argon2", path.read_text("utf-8"), re.MULTILINE)
        and path.name != "passwords.py"
    ]
    assert offenders == []


# --- recovery codes ----------------------------------------------------------------------


CODE_PATTERN = re.compile(rf"^[{RECOVERY_ALPHABET}]{{4}}(-[{RECOVERY_ALPHABET}]{{4}}){{4}}$")


def test_recovery_alphabet_is_unambiguous_and_codes_carry_80_bits():
    assert not set("0O1IL") & set(RECOVERY_ALPHABET)
    assert len(set(RECOVERY_ALPHABET)) == len(RECOVERY_ALPHABET)
    symbols = len(generate_recovery_code().replace("-", ""))
    assert symbols * math.log2(len(RECOVERY_ALPHABET)) >= 80


def test_recovery_codes_format_uniqueness_and_spread():
    codes = [generate_recovery_code() for _ in range(1000)]
    assert all(CODE_PATTERN.match(code) for code in codes)
    assert len(set(codes)) == 1000
    counts = {symbol: 0 for symbol in RECOVERY_ALPHABET}
    for code in codes:
        for symbol in code.replace("-", ""):
            counts[symbol] += 1
    expected = 20_000 / len(RECOVERY_ALPHABET)  # about 667 per symbol
    assert all(0.7 * expected < count < 1.3 * expected for count in counts.values()), counts


def test_recovery_code_normalisation_round_trip():
    for _ in range(100):
        code = generate_recovery_code()
        canonical = code.replace("-", "")
        assert normalize_recovery_code(code) == canonical
        assert normalize_recovery_code(code.lower()) == canonical
        assert normalize_recovery_code(" " + code.replace("-", " ") + "\n") == canonical
        assert normalize_recovery_code(code.replace("-", "\u2013")) == canonical
        fullwidth = "".join(chr(ord(c) + 0xFEE0) if c != "-" else c for c in code)
        assert normalize_recovery_code(fullwidth) == canonical
        assert normalize_recovery_code(canonical) == canonical


async def test_recovery_codes_are_hashed_with_the_same_hasher():
    hasher = Hasher(cheap=True)
    code = generate_recovery_code()
    stored = await hasher.hash(normalize_recovery_code(code))
    assert await hasher.verify(stored, normalize_recovery_code(code.lower().replace("-", " ")))
    assert not await hasher.verify(stored, normalize_recovery_code(generate_recovery_code()))
