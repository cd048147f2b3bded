"""Turn stored text into safe HTML: Markdown is rendered, then everything is sanitised.

Every field a person or an import wrote goes through ``render_body``: no
scripts, no event handlers, no ``javascript:`` links, no inline styles.
"""

from __future__ import annotations

import threading

import markdown
import nh3
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
MARKDOWN_EXTENSIONS = ["extra", "sane_lists"]


def sanitize_html(html: str) -> str:
    """Keep structure and links; drop scripts, handlers, styles and unsafe URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_converters = threading.local()


def _converter() -> markdown.Markdown:
    """This thread's Markdown converter. Building one (its extensions, its parser) cost
    more than converting a field, and a page converts a dozen."""
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        converter = markdown.Markdown(extensions=MARKDOWN_EXTENSIONS, output_format="html")
        _converters.markdown = converter
    return converter


def render_markdown(text: str) -> SafeString:
    # Raw HTML inside Markdown is allowed through `markdown` and then cleaned
    # by nh3, so a pasted <table> survives and a pasted <script> does not.
    converter = _converter()
    try:
        html = converter.convert(text or "")
    finally:
        converter.reset()  # footnotes, abbreviations… never leak into the next text
    return mark_safe(sanitize_html(html))


def render_body(text: str, body_format: str = "markdown") -> SafeString:
    """Render text stored as ``markdown``, ``html`` (imported) or ``text``."""
    if body_format == "html":
        return mark_safe(sanitize_html(text or ""))
    if body_format == "text":
        return linebreaks(escape(text or ""))
    return render_markdown(text)
