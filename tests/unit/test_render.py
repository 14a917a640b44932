"""The rendering layer: HTML templates escape every value as ``esc`` does, Markdown ones leave escaping to
their filters, None prints as nothing, an undefined name is an error, and every template compiles."""

from __future__ import annotations

import jinja2
import pytest

from segments.reports.render import ENV, TEMPLATES, esc


@pytest.fixture
def env() -> jinja2.Environment:
    return ENV.overlay(
        loader=jinja2.DictLoader(
            {
                "t.html": "<p title='{{ v }}'>{{ v }}|{{ none }}|{{ safe }}|{{ n|count }}</p>",
                "t.md": "{{ v }}|{{ v|md }}|{{ none }}|{{ n|plural('row') }}",
                "missing.html": "{{ nowhere }}",
            }
        )
    )


def test_html_is_escaped_like_esc_and_markdown_is_not(env):
    value = """<b>"Tom's" & co</b>"""
    html = env.get_template("t.html").render(v=value, none=None, safe=esc("<i>"), n=1234)
    assert html == f"<p title='{esc(value)}'>{esc(value)}||&lt;i&gt;|1,234</p>"
    assert "&quot;Tom&#x27;s&quot;" in html
    md = env.get_template("t.md").render(v=value, none=None, n=1)
    assert md == f"""{value}|\\<b\\>"Tom's" & co\\</b\\>||1 row"""


def test_an_undefined_name_is_an_error(env):
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("missing.html").render()


def test_every_template_compiles():
    names = [p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert "base.html" in names
    for name in names:
        ENV.get_template(name)
