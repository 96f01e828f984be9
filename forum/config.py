"""Settings: read once from ``FORUM_*`` environment variables, nothing else reads os.environ.

Each field carries its environment variable and a one-line help text in its metadata; the
README documents every one of them and ``tests/forum/test_docs.py`` checks that it does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: templates/, static/, locales/ and migrations/ live beside the packages."""

DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / 'var' / 'forum.db'}"
ENVIRONMENTS = ("production", "development", "test")
REGIONS = ("FR", "BE", "CH", "CA-QC", "CA", "INTL")
LOCALES = ("fr", "en")


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and how to fix it."""


def setting(env: str, default: object, help: str) -> object:  # noqa: A002 - the field's help text
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """The forum's configuration. Build it with :meth:`from_env`, or directly in tests."""

    env: str = setting(
        "FORUM_ENV", "production",
        "production, development or test; outside development a secret key is required.",
    )
    database_url: str = setting(
        "FORUM_DATABASE_URL", DEFAULT_DATABASE_URL,
        "SQLAlchemy URL: sqlite+aiosqlite:///path (default var/forum.db) or "
        "postgresql+asyncpg://user@host/db.",
    )
    secret_key: str = setting(
        "FORUM_SECRET_KEY", "",
        "At least 32 random characters; signs the CSRF tokens. `make run` generates one "
        "into var/secret_key on first run.",
    )
    base_url: str = setting(
        "FORUM_BASE_URL", "http://127.0.0.1:8000",
        "The public address; when it is https, cookies are Secure and __Host- prefixed and "
        "HSTS is sent.",
    )
    default_locale: str = setting(
        "FORUM_DEFAULT_LOCALE", "fr", "Language for visitors who have not chosen one: fr or en."
    )
    default_region: str = setting(
        "FORUM_DEFAULT_REGION", "FR",
        "Crisis lines shown when nothing else tells the region: FR, BE, CH, CA-QC, CA or INTL.",
    )
    redis_url: str = setting(
        "FORUM_REDIS_URL", "",
        "Optional redis:// URL, for sharing state between processes and machines.",
    )
    page_cache_mb: int = setting(
        "FORUM_PAGE_CACHE_MB", 32,
        "Memory per process for the visitor page cache (home, space and thread pages for "
        "requests without a session; kept in Redis instead when FORUM_REDIS_URL is set); "
        "0 turns it off.",
    )
    member_page_cache_mb: int = setting(
        "FORUM_MEMBER_PAGE_CACHE_MB", 16,
        "Memory per process for members' own home, space and thread pages (each member's "
        "own copy, kept in this process only, never in Redis); 0 turns it off.",
    )
    session_idle_hours: int = setting(
        "FORUM_SESSION_IDLE_HOURS", 24 * 7,
        "A session unused for this many hours ends (default one week).",
    )
    session_max_days: int = setting(
        "FORUM_SESSION_MAX_DAYS", 30,
        "A session ends this many days after log-in, however active (default 30).",
    )
    log_level: str = setting(
        "FORUM_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."
    )
    crisis_autoflag: str = setting(
        "FORUM_CRISIS_AUTOFLAG", "on",
        "on or off: a post screened as urgent raises a priority welfare flag for the space's "
        "moderators (stated in the charter and the privacy page).",
    )
    crisis_lexicon: str = setting(
        "FORUM_CRISIS_LEXICON", "",
        "Optional path to an admin's extension of the crisis lexicon (same TOML format as "
        "moderation/data/crisis_lexicon.toml).",
    )
    welfare_escalation_minutes: int = setting(
        "FORUM_WELFARE_ESCALATION_MINUTES", 15,
        "An urgent welfare item nobody has claimed after this many minutes is escalated, once, "
        "to every moderator of its space and every admin (default 15).",
    )
    conversation_wait_hours: int = setting(
        "FORUM_CONVERSATION_WAIT_HOURS", 2,
        "A request to talk with a trained peer helper that nobody takes within this many hours "
        "is closed, and the member told kindly where else to turn (default 2).",
    )
    conversation_retention_days: int = setting(
        "FORUM_CONVERSATION_RETENTION_DAYS", 365,
        "A closed one-to-one conversation is deleted this many days after its end, once nothing "
        "on it waits for the moderators (default 365; said on the privacy page).",
    )
    reserved_pseudonyms: str = setting(
        "FORUM_RESERVED_PSEUDONYMS", "",
        "More words nobody may take as a pseudonym or a part of one, comma-separated (added "
        "to the shipped list of staff words, care professions and crisis services).",
    )
    quick_exit_url: str = setting(
        "FORUM_QUICK_EXIT_URL", "https://meteofrance.com/",
        "Where the \"Quitter rapidement\" button goes: a neutral site (default, a weather site).",
    )
    unanswered_hours: int = setting(
        "FORUM_UNANSWERED_HOURS", 12,
        "A thread without a reply after this many hours is listed for peers to answer.",
    )
    search_budget_ms: int = setting(
        "FORUM_SEARCH_BUDGET_MS", 250,
        "How long one search may take, in milliseconds (default 250): past it, the database "
        "stops the search and the page shows the newest matches, unranked, and says so.",
    )
    rate_limits: str = setting(
        "FORUM_RATE_LIMITS", "on",
        "on or off: throttling of log-ins, sign-ups, recoveries and searches. Turn it off for "
        "load tests only.",
    )
    trust_proxy: str = setting(
        "FORUM_TRUST_PROXY", "off",
        "on behind a reverse proxy that sets X-Forwarded-For (deploy/ does): the client, for "
        "throttling only, is its last entry (never stored, see docs/PRIVACY.md). off: the "
        "socket peer.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every ``FORUM_*`` variable once; unknown values raise :class:`ConfigError`."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            if f.type == "int":
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise ConfigError(f"{f.metadata['env']} must be a whole number") from exc
            else:
                values[f.name] = raw.strip()
        return cls(**values).validated()

    def validated(self) -> Settings:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"FORUM_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.default_locale not in LOCALES:
            raise ConfigError(f"FORUM_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}")
        if self.default_region not in REGIONS:
            raise ConfigError(f"FORUM_DEFAULT_REGION must be one of {', '.join(REGIONS)}")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ConfigError("FORUM_BASE_URL must start with http:// or https://")
        if self.session_idle_hours < 1 or self.session_max_days < 1:
            raise ConfigError("session lifetimes must be positive")
        if self.crisis_autoflag not in ("on", "off"):
            raise ConfigError("FORUM_CRISIS_AUTOFLAG must be on or off")
        if urlsplit(self.quick_exit_url).scheme != "https":
            raise ConfigError("FORUM_QUICK_EXIT_URL must be an https:// address")
        if self.unanswered_hours < 1:
            raise ConfigError("FORUM_UNANSWERED_HOURS must be at least 1")
        if self.welfare_escalation_minutes < 1:
            raise ConfigError("FORUM_WELFARE_ESCALATION_MINUTES must be at least 1")
        if self.conversation_wait_hours < 1:
            raise ConfigError("FORUM_CONVERSATION_WAIT_HOURS must be at least 1")
        if self.conversation_retention_days < 1:
            raise ConfigError("FORUM_CONVERSATION_RETENTION_DAYS must be at least 1")
        if not 1 <= self.search_budget_ms <= 60_000:
            raise ConfigError("FORUM_SEARCH_BUDGET_MS must be between 1 and 60000")
        if self.rate_limits not in ("on", "off") or self.trust_proxy not in ("on", "off"):
            raise ConfigError("FORUM_RATE_LIMITS and FORUM_TRUST_PROXY must be on or off")
        return self

    def require_secret(self) -> str:
        """The secret key, or a loud error outside development (where a fixed one is used)."""
        if len(self.secret_key) >= 32:
            return self.secret_key
        if self.env in ("development", "test"):
            return "development-only-secret-key-not-for-production!!"
        raise ConfigError(
            "FORUM_SECRET_KEY is missing or shorter than 32 characters. Generate one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )

    @property
    def https(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def documented_settings() -> list[tuple[str, str, object]]:
    """(environment variable, help, default) for each setting, for docs and their test."""
    return [(f.metadata["env"], f.metadata["help"], f.default) for f in fields(Settings)]
