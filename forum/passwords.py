"""Passwords and recovery codes: policy, argon2id hashing off the event loop, recovery codes.

This is the only module that imports argon2. Hashes use argon2-cffi's default parameters
(argon2id, RFC 9106 low-memory profile: t=3, m=64 MiB, p=4). Each hash needs 64 MiB and about
0.2 s of CPU, so hashing runs in worker threads, at most ``max_concurrent`` at a time per
event loop. Recovery codes are hashed with the same ``Hasher`` by the callers.
"""

from __future__ import annotations

import base64
import secrets
import unicodedata
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import ARGON2_VERSION

MIN_LENGTH = 10
MAX_LENGTH = 1024

RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U (V)
RECOVERY_GROUPS = 5
RECOVERY_GROUP_LENGTH = 4

_COMMON_FILE = "data/common-passwords.txt"
_RECOVERY_SEPARATORS = frozenset("-_.\u2010\u2011\u2012\u2013\u2014\u2212")

_T = TypeVar("_T")


class PasswordPolicyError(ValueError):
    """A refused password; ``code`` is one of empty, too_short, too_long, common, invalid_chars."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code


def check_policy(password: str, *, pseudonym: str | None = None) -> None:
    """Raise ``PasswordPolicyError`` unless ``password`` may be used.

    The length is checked first so that an oversized password costs nothing more. Length is
    counted in code points; no composition rule; case and every character are kept.
    """
    if not password:
        raise PasswordPolicyError("empty")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError("too_long")
    if "\x00" in password:
        raise PasswordPolicyError("invalid_chars")
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError("too_short")
    folded = password.casefold()
    if folded in common_passwords():
        raise PasswordPolicyError("common")
    if pseudonym is not None and folded == pseudonym.strip().casefold():
        raise PasswordPolicyError("common")


@cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords (casefolded), loaded once."""
    text = (resources.files("forum") / _COMMON_FILE).read_text(encoding="utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


class Hasher:
    """argon2id hashing in worker threads, bounded per event loop."""

    def __init__(self, *, cheap: bool = False, max_concurrent: int = 2) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if cheap:
            self._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
        else:
            self._hasher = PasswordHasher()
        self.max_concurrent = max_concurrent
        self._limiter_var: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar(
            f"forum.passwords.Hasher.{id(self)}.limiter"
        )
        self.dummy_hash = _dummy_hash(self._hasher)

    async def hash(self, password: str) -> str:
        """Return the argon2id hash of ``password``, computed off the event loop."""
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Tell whether ``password`` matches ``stored_hash``.

        Without a stored hash (unknown member) or with a malformed one, a dummy hash of the
        same cost is verified instead, so every answer takes the same time.
        """
        if stored_hash is None:
            await self._run(self._verify, self.dummy_hash, password)
            return False
        try:
            return await self._run(self._hasher.verify, stored_hash, password)
        except InvalidHashError:
            await self._run(self._verify, self.dummy_hash, password)
            return False
        except VerificationError:
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Tell whether ``stored_hash`` was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except VerificationError:
            return False

    def _limiter(self) -> anyio.CapacityLimiter:
        """Return this event loop's limiter, created on first use inside the loop."""
        try:
            return self._limiter_var.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(self.max_concurrent)
            self._limiter_var.set(limiter)
            return limiter

    async def _run(self, func: Callable[..., _T], *args: str) -> _T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter())


def _dummy_hash(hasher: PasswordHasher) -> str:
    """Build a hash string with ``hasher``'s parameters that no password matches.

    Verifying it costs exactly as much as verifying a real hash; building it costs nothing.
    """

    def encode(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii").rstrip("=")

    salt = encode(secrets.token_bytes(hasher.salt_len))
    digest = encode(secrets.token_bytes(hasher.hash_len))
    params = f"m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
    return f"$argon2{hasher.type.name.lower()}$v={ARGON2_VERSION}${params}${salt}${digest}"


def generate_recovery_code() -> str:
    """Return a recovery code such as ``7KQ2-XW9M-...``: 20 symbols of 30, about 98 bits."""
    symbols = "".join(
        secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH)
    )
    return "-".join(
        symbols[start : start + RECOVERY_GROUP_LENGTH]
        for start in range(0, len(symbols), RECOVERY_GROUP_LENGTH)
    )


def normalize_recovery_code(raw: str) -> str:
    """Return the canonical form that is hashed: NFKC, uppercase, no spaces or dashes.

    The alphabet has no 0, O, 1, I, L or U, so there is nothing to map them to: a code typed
    with one of them simply does not match.
    """
    text = unicodedata.normalize("NFKC", raw).upper()
    return "".join(char for char in text if not char.isspace() and char not in _RECOVERY_SEPARATORS)
