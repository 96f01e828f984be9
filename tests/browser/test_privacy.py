"""Nothing leaves 127.0.0.1, htmx runs with its strict configuration, and the CSP holds.

Every page fixture already fails on a foreign request, a CSP violation or a script error; these
tests walk the pages that load the most and check the configuration itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.flows import public_thread_url, reply_with_htmx, sign_up

pytestmark = pytest.mark.browser


def test_htmx_runs_with_same_origin_requests_only_and_no_eval(page: Any) -> None:
    page.goto("/")
    config = page.evaluate(
        "() => ({self: htmx.config.selfRequestsOnly, evalOk: htmx.config.allowEval,"
        " scripts: htmx.config.allowScriptTags, history: htmx.config.historyCacheSize,"
        " version: htmx.version})"
    )
    assert config == {"self": True, "evalOk": False, "scripts": False, "history": 0,
                      "version": "2.0.11"}


def test_a_whole_visit_requests_only_the_forum_itself(page: Any) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_up(page)
    page.goto("/")
    page.goto(public_thread_url(page))
    reply_with_htmx(page, "Un lien https://example.org/image.png reste un lien.")
    page.goto("/help?region=CA-QC")

    assert requested, "the visit made no request at all"
    assert all(url.startswith(page.url.split("/help")[0]) for url in requested), requested
    assert page.watch.csp_violations == []
    assert page.watch.foreign_requests == []
