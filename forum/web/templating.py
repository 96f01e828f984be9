"""The Jinja environment: autoescape on, gettext per request, and the page helpers.

Translations are looked up per call from the request's locale (never installed on the shared
environment), so concurrent requests in two languages cannot mix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine as Engine

from forum import content_warnings, i18n, permissions
from forum.config import ROOT
from forum.resources import lines_for, region_name
from forum.web import fragments
from forum.web.context import locale_of, region_of, settings_of, viewer_of

TEMPLATE_DIR = ROOT / "templates"


def _request(ctx: Context) -> Any:
    return ctx.get("request")


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    """The translation only; Jinja's newstyle wrapper formats it and escapes the values."""
    request = _request(ctx)
    locale = locale_of(request) if request is not None else i18n.SOURCE_LOCALE
    return i18n.translations(locale).gettext(message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    request = _request(ctx)
    locale = locale_of(request) if request is not None else i18n.SOURCE_LOCALE
    return i18n.translations(locale).ngettext(singular, plural, n)


@pass_context
def _date(ctx: Context, value: datetime) -> str:
    request = _request(ctx)
    return i18n.format_date(value, locale_of(request), region_of(request))


@pass_context
def _when(ctx: Context, value: str | datetime | None) -> str:
    """A moment the export holds as ISO text (a day, or a date and time), or a datetime, in
    the reader's language and region; text that is not ISO is shown as it is."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if len(value) == len("2026-12-05"):
            return i18n.format_day(parsed.date(), locale_of(_request(ctx)))
        value = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _date(ctx, value)


def machine_time(value: datetime) -> str:
    """A ``<time datetime>`` value HTML accepts: UTC to the second (``isoformat()`` gave
    microseconds and an offset, which the Nu HTML Checker refuses)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pass_context
def _ago(ctx: Context, value: datetime) -> str:
    return i18n.format_ago(value, locale_of(_request(ctx)))


@pass_context
def _number(ctx: Context, value: int) -> str:
    return i18n.format_number(value, locale_of(_request(ctx)))


@pass_context
def _warning_label(ctx: Context, value: str | None) -> str | None:
    label = content_warnings.label(value)
    if label is None or not content_warnings.is_preset(value):
        return label
    return _gettext(ctx, label)


@pass_context
def _region_name(ctx: Context, code: str) -> str:
    return region_name(code, locale_of(_request(ctx)))


@pass_context
def _viewer(ctx: Context) -> Any:
    return viewer_of(_request(ctx))


@pass_context
def _locale(ctx: Context) -> str:
    return locale_of(_request(ctx))


@pass_context
def _region(ctx: Context) -> str:
    return region_of(_request(ctx))


@pass_context
def _settings(ctx: Context) -> Any:
    return settings_of(_request(ctx))


def make_environment(
    extra_globals: dict[str, Any] | None = None, *, auto_reload: bool = False
) -> Environment:
    """``auto_reload`` (development only) checks each template file's date on every use: a
    thread page includes a few templates per post, so production skips it."""
    env = Environment(  # noqa: S701 - autoescape is on via select_autoescape(default=True)
        loader=FileSystemLoader(TEMPLATE_DIR),
        auto_reload=auto_reload,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(gettext=_gettext, ngettext=_ngettext, newstyle=True)
    env.globals.update(
        format_date=_date, format_ago=_ago, format_when=_when,
        machine_time=machine_time,
        format_number=_number, viewer=_viewer, locale=_locale, region=_region,
        settings=_settings, language_name=i18n.language_name, permissions=permissions,
        warning_label=_warning_label, region_name=_region_name,
        help_lines=lambda region: lines_for(region).primary(),
    )
    fragments.install(env)
    if extra_globals:
        env.globals.update(extra_globals)
    return env


def make_engine(env: Environment) -> Engine:
    return Engine.from_environment(env)
