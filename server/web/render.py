"""Safe text: light Markdown (bold, italics, links, lists) rendered, then sanitised by nh3."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# "zero" preset plus only the features members need; raw HTML stays off.
_md = MarkdownIt("zero", {"breaks": True, "linkify": False, "html": False}).enable(
    ["emphasis", "link", "list", "newline", "paragraph", "autolink", "backticks"]
)
_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "code"}
_ATTRS = {"a": {"href"}}


def markdown(text: str) -> Markup:
    """Member-written text as safe HTML: no raw HTML, links marked nofollow noopener."""
    html = _md.render(text or "")
    clean = nh3.clean(
        html, tags=_TAGS, attributes=_ATTRS, url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(clean)
