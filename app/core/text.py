"""Text the service can always serve: every string it stores or echoes must be writable in XML 1.0 (the
Atom feed and the Infobutton answers are XML, and a character XML cannot hold would break them for every
caller). One predicate, used at the door for query parameters and JSON bodies alike."""

from __future__ import annotations

import re
from typing import Any

# XML 1.0 `Char`: tab, newline, carriage return, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF.
# Everything else (C0 controls, lone surrogates, U+FFFE, U+FFFF) cannot be written in an XML document.
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# The same rule as a JSON Schema `pattern` (ECMA-262 syntax) for the OpenAPI document, so that a generated
# client or a contract test knows which strings the door refuses: no C0 control but tab, newline and carriage
# return, and neither U+FFFE nor U+FFFF. (Lone surrogates cannot be written in a pattern both regex dialects
# read alike; the door refuses them too.)
XML_TEXT_PATTERN = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\uFFFE\\uFFFF]*$"


def xml_safe(value: str) -> bool:
    return NOT_XML.search(value) is None


def describe(value: str) -> str:
    """What is wrong with `value`, naming its first bad character (`U+0001`)."""
    found = NOT_XML.search(value)
    return f"contains U+{ord(found.group()):04X}, a character XML cannot hold" if found else "is valid"


def first_unsafe(value: Any, path: tuple[str | int, ...] = ()) -> tuple[tuple[str | int, ...], str] | None:
    """Where in a parsed JSON value the first string (key or value) XML cannot hold is, and what is wrong."""
    if isinstance(value, str):
        return None if xml_safe(value) else (path, describe(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if not xml_safe(key):
                return (*path, key), describe(key)
            if (found := first_unsafe(item, (*path, key))) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := first_unsafe(item, (*path, index))) is not None:
                return found
    return None
