"""The one rendering layer: every HTML and Markdown document is a Jinja2 template in ``templates/``.

HTML (and SVG) templates extend or include ``base.html`` and are autoescaped; Markdown and plain-text templates
are not, and escape data with the ``md`` and ``code`` filters. Escaping is ``html.escape``'s (``&quot;``,
``&#x27;``), as the documents had it before templates; ``None`` prints as nothing; an undefined name is an
error, not an empty string. Numbers, money, percentages, plurals and dates are the filters of
``segments.formatting``.
"""

from __future__ import annotations

import html
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_eval_context, select_autoescape
from markupsafe import Markup

from segments import formatting
from segments.reports import md_code, md_fence, md_rows, md_table, md_text

__all__ = ["TEMPLATES", "esc", "render", "render_fragment"]

TEMPLATES = Path(__file__).with_name("templates")


def esc(value: object) -> Markup:
    """Escape a value for HTML text or a quoted attribute (``None`` becomes empty)."""
    if hasattr(value, "__html__"):
        return Markup(value)
    return Markup("" if value is None else html.escape(str(value), quote=True))


@pass_eval_context
def _finalize(eval_ctx, value: object) -> object:
    """Every ``{{ value }}``: nothing for None; in an HTML template, escaped by ``esc``."""
    if value is None:
        return ""
    return esc(value) if eval_ctx.autoescape else value


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default_for_string=False),
    undefined=StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters.update(
    change=formatting.change,
    count=formatting.count,
    minute=formatting.minute,
    money=formatting.money,
    noun=formatting.noun,
    number=formatting.number,
    percent=formatting.percent,
    plural=formatting.plural,
    points=formatting.points,
    share=formatting.share,
    md=md_text,
    code=md_code,
    fence=md_fence,
    md_rows=md_rows,
)
ENV.globals.update(md_table=md_table)


def render(template: str, /, **context: object) -> str:
    """The document ``template`` (a path under ``templates/``) with ``context``."""
    return ENV.get_template(template).render(**context)


def render_fragment(template: str, /, **context: object) -> Markup:
    """Markup to insert into a document (an SVG chart): ``template`` without its file's final line break."""
    return Markup(render(template, **context).removesuffix("\n"))
