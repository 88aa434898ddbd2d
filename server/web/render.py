"""Safe text: light Markdown (bold, italics, links, lists, bare web addresses) rendered,
then sanitised by nh3. static/markdown.js draws live messages the same way."""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3
from linkify_it import LinkifyIt  # ships no type hints
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup

LINK_REL = "noopener nofollow ugc"


def _lookalike_hosts_stay_text(state: StateCore) -> None:
    """A bare address whose host is not plain ASCII (a lookalike like "аpple.com" with a
    Cyrillic "а") stays text: its link would go somewhere other than it appears to."""
    for block in state.tokens:
        children = block.children or []
        out = []
        skip_close = 0
        for token in children:
            if token.type == "link_open" and token.markup == "linkify":
                host = urlsplit(str(token.attrGet("href") or "")).hostname or ""
                if not host or host.startswith("xn--") or ".xn--" in host:
                    skip_close += 1
                    continue
            if token.type == "link_close" and token.markup == "linkify" and skip_close:
                skip_close -= 1
                continue
            out.append(token)
        block.children = out or block.children


def _build_markdown() -> MarkdownIt:
    """The "zero" preset plus only the features members need; raw HTML stays off."""
    md = MarkdownIt("zero", {"breaks": True, "linkify": True, "html": False}).enable(
        ["emphasis", "link", "list", "newline", "paragraph", "autolink", "backticks", "linkify"]
    )
    # Bare addresses become links only when they say http:// or https:// in full: no
    # "www.…" guesses, no e-mail addresses, no ftp: or protocol-relative "//…".
    md.linkify = LinkifyIt({"ftp:": None, "//": None, "mailto:": None}).set(
        {"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False}
    )
    md.core.ruler.after("linkify", "lookalike_hosts", _lookalike_hosts_stay_text)
    return md


_md = _build_markdown()
_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "code"}
_ATTRS = {"a": {"href"}}


def markdown(text: str) -> Markup:
    """Member-written text as safe HTML: no raw HTML, links marked noopener nofollow ugc."""
    html = _md.render(text or "")
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
    )
    return Markup(clean)
