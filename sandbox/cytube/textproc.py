"""Text handling that has to match what CyTube's JavaScript does to chat text.

Everything here is written from the behaviour described in
/work/shared/CYTUBE_PROTOCOL.md and CyTube's documented processing order; the
JavaScript string semantics (UTF-16 lengths, the JS whitespace set, ASCII-only
``\\w``) are reproduced because they decide where a message is cut and
whether it counts as blank.
"""

from __future__ import annotations

import re

# JavaScript's String.prototype.trim() whitespace (WhiteSpace + LineTerminator).
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_WS_CLASS = re.escape(JS_WHITESPACE)

_CONTROL_RUN = re.compile("[\x00-\x1f]+")

# CyTube's link pattern: scheme://host-or-[ipv6][:port](/path)*, case-insensitive.
LINK_RE = re.compile(
    r"([A-Za-z0-9_]+://(?:[^:/\[\]" + _JS_WS_CLASS + r"]+|\[[0-9a-fA-F:]+\])"
    r"(?::[0-9]+)?(?:/[^/" + _JS_WS_CLASS + r"]*)*)"
)
LINK_PLACEHOLDER = "\ueeee"

# sanitize-html keeps href only for these schemes (its defaults plus CyTube's "mumble").
ALLOWED_HREF_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "tel", "mumble"})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9.+\-]*):")

# The default chat filters of a registered channel, in CyTube's order.
DEFAULT_FILTERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"`(.+?)`"), r"<code>\1</code>"),
    (re.compile(r"\*(.+?)\*"), r"<strong>\1</strong>"),
    (re.compile(r"_(.+?)_"), r"<em>\1</em>"),
    (re.compile(r"~~(.+?)~~"), r"<s>\1</s>"),
    (re.compile(r"\[sp\](.*?)\[/sp\]", re.IGNORECASE), r'<span class="spoiler">\1</span>'),
)

_TAG_RE = re.compile(r"<(/?)([a-z]+)([^>]*)>")


def js_substring(text: str, length: int) -> str:
    """Return ``text.substring(0, length)`` with JavaScript's UTF-16 counting."""
    units = 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > length:
            if units < length:
                # JS cuts between the two halves of a surrogate pair and keeps the high one.
                high = 0xD800 + ((ord(char) - 0x10000) >> 10)
                return text[:index] + chr(high)
            return text[:index]
        units += width
    return text


def as_sent_by_node(text: str) -> str:
    """The text a client receives: node writes lone surrogates as U+FFFD (UTF-8 EF BF BD).

    So a 320-unit cut through an emoji ends in U+FFFD on the wire, not a lone surrogate.
    """
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


def js_trim(text: str) -> str:
    return text.strip(JS_WHITESPACE)


def replace_control_chars(text: str) -> str:
    """Each run of 0x00-0x1f becomes one space, as CyTube does without allow_ascii_control."""
    return _CONTROL_RUN.sub(" ", text)


def to_utf8_like_node(text: str) -> bytes:
    """Encode like Node's Buffer.from(str): lone surrogates become U+FFFD."""
    return as_sent_by_node(text).encode("utf-8")


def escape_text(text: str) -> str:
    """The net effect of CyTube's sanitizeText followed by sanitize-html on plain text.

    sanitizeText also encodes quotes and parentheses, but sanitize-html decodes
    entities and re-encodes only ``& < >`` in text, so those come back unchanged.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _anchor(link: str) -> str:
    """Build the anchor for an already-escaped link; quotes are encoded only inside href."""
    attrs = ""
    scheme = _SCHEME_RE.match(link)
    if scheme is None or scheme.group(1).lower() in ALLOWED_HREF_SCHEMES:
        attrs = ' href="' + link.replace('"', "&quot;") + '"'
    return "<a" + attrs + ' target="_blank" rel="noopener noreferrer">' + link + "</a>"


def _apply_filters(text: str, filters: tuple[tuple[re.Pattern[str], str], ...]) -> str:
    for pattern, replacement in filters:
        text = pattern.sub(replacement, text)
    return text


def balance_tags(markup: str) -> str:
    """Close and drop tags the way sanitize-html's parser does for mis-nested filter output.

    A closing tag that matches an open element closes everything opened after
    it; a closing tag with no open element is dropped; open elements are
    closed at the end. Only tags produced by filters and links can occur here,
    because user text has already been escaped.
    """
    out: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _TAG_RE.finditer(markup):
        out.append(markup[position : match.start()])
        position = match.end()
        closing, name = match.group(1), match.group(2)
        if not closing:
            stack.append(name)
            out.append(match.group(0))
            continue
        if name not in stack:
            continue
        while stack:
            top = stack.pop()
            out.append("</" + top + ">")
            if top == name:
                break
    out.append(markup[position:])
    out.extend("</" + name + ">" for name in reversed(stack))
    return "".join(out)


def format_chat_text(text: str, *, use_filters: bool, convert_links: bool = True) -> str:
    """Turn a raw chat message into the HTML CyTube broadcasts."""
    escaped = escape_text(text)
    links = LINK_RE.findall(escaped)
    intermediate = LINK_RE.sub(LINK_PLACEHOLDER, escaped)
    filtered = _apply_filters(intermediate, DEFAULT_FILTERS) if use_filters else intermediate
    pending = iter(links)

    def restore(_match: re.Match[str]) -> str:
        # A placeholder typed by the user consumes a link slot (or vanishes), as in CyTube.
        link = next(pending, "")
        if not link:
            return ""
        return _anchor(link) if convert_links else link

    return balance_tags(re.sub(LINK_PLACEHOLDER, restore, filtered))


def format_number(value: float) -> str:
    """Render a number the way JavaScript's String(n) does for the values used here."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def first_word_command(message: str) -> str | None:
    """Return the command name of a ``/cmd args`` message, or None."""
    if not message.startswith("/"):
        return None
    space = message.find(" ")
    return message[1:] if space < 0 else message[1:space]
