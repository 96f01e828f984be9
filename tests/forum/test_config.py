import pytest

from forum.config import DEFAULT_DATABASE_URL, ConfigError, Settings, documented_settings


def test_settings_have_safe_defaults_when_no_variable_is_set() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert DEFAULT_DATABASE_URL.endswith("var/forum.db")
    assert settings.default_locale == "fr"
    assert settings.default_region == "FR"
    assert settings.redis_url == ""
    assert settings.env == "production"


def test_settings_are_read_from_forum_variables_only() -> None:
    settings = Settings.from_env({
        "FORUM_DATABASE_URL": "postgresql+asyncpg://u@h/db",
        "FORUM_DEFAULT_LOCALE": "en", "FORUM_DEFAULT_REGION": "CA-QC",
        "FORUM_SESSION_IDLE_HOURS": "2", "DATABASE_URL": "ignored",
    })
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.default_locale == "en"
    assert settings.default_region == "CA-QC"
    assert settings.session_idle_hours == 2


@pytest.mark.parametrize("variable, value", [
    ("FORUM_DEFAULT_LOCALE", "de"),
    ("FORUM_DEFAULT_REGION", "US"),
    ("FORUM_ENV", "staging"),
    ("FORUM_SESSION_MAX_DAYS", "soon"),
    ("FORUM_BASE_URL", "ftp://example.org"),
    ("FORUM_SEARCH_BUDGET_MS", "0"),
    ("FORUM_SEARCH_BUDGET_MS", "ten"),
])
def test_invalid_settings_are_refused_with_the_variable_named(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


def test_a_secret_key_is_required_outside_development() -> None:
    with pytest.raises(ConfigError, match="FORUM_SECRET_KEY"):
        Settings.from_env({}).require_secret()
    assert Settings.from_env({"FORUM_ENV": "development"}).require_secret()
    key = "k" * 40
    assert Settings.from_env({"FORUM_SECRET_KEY": key}).require_secret() == key


def test_https_base_url_turns_on_secure_cookies() -> None:
    assert Settings.from_env({"FORUM_BASE_URL": "https://entrepairs.example"}).https
    assert not Settings.from_env({}).https


def test_every_setting_has_an_environment_variable_and_help() -> None:
    names = [env for env, _help, _default in documented_settings()]
    assert len(names) == len(set(names))
    assert all(name.startswith("FORUM_") for name in names)
    assert all(help_text for _env, help_text, _default in documented_settings())
