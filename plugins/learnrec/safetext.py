"""One sanitiser for all text that reaches a learner or a prompt, whatever produced it.

Profile and catalogue text is written by others (learners, instructors, imports), and an LLM
answer may repeat whatever it was given: none of it is trusted. :func:`clean` makes text safe to
compose into a message (templates, rule-based answers); :func:`findings` tells why a finished
text (an LLM answer) is not, so that it is rejected and the fallback served, rather than
silently edited. Both apply the same :data:`RULES`:

* control characters (CR/LF included: a header-injection risk in a subject) and invisible
  formatting characters (bidirectional overrides, zero-width) become spaces;
* markup is neutralised: ``< > { } [ ] $ `` ` and ``\\`` never pass;
* links and e-mail addresses pass only when their host is on the allow-list
  (``LEARNREC_TEXT_ALLOWED_HOSTS``, empty by default: no link at all);
* placeholders (``$name``, ``${name}``, ``{name}``, ``{{ name }}``, ``%(name)s``) never pass;
* lengths are bounded.

:func:`fence` marks untrusted text as data in a prompt: cleaned (so it holds no fence marker)
and wrapped in ``[[ ]]``, which the prompts declare to be data, never instructions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from learnrec.settings import get_settings

_SCHEME_LINK = re.compile(r"(?i)\b(?:https?|ftp|javascript|data|mailto):(?://)?[^\s<>\"']*")
_BARE_LINK = re.compile(
    r"(?i)\b(?:www\.[^\s<>\"']+|(?:[a-z0-9-]+\.)+(?:com|net|org|info|biz|ru|cn|xyz|top|ly|me|co|click|link)"
    r"(?:/[^\s<>\"']*)?(?![\w.]))"
)
_EMAIL = re.compile(r"[\w.+-]+@((?:[\w-]+\.)+[\w-]+)")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}?|\$\w+|\{\{[^}]*\}?\}?|\{\w*\}|%\(\w+\)[sdr]")
_TAG = re.compile(r"<[^<>]*>")
_MARKUP = re.compile(r"[<>{}\[\]$`\\]")
_SPACES = re.compile(r"\s+")


def _controls(text: str) -> str:
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)


def _host(match: re.Match[str]) -> str:
    found = match.group(1) if match.re is _EMAIL else match.group(0)
    host = re.sub(r"(?i)^[a-z]+:(?://)?", "", found).split("/")[0].split("?")[0].lower()
    return host.rsplit("@", 1)[-1].removeprefix("www.")


def allowed_hosts() -> frozenset[str]:
    """Hosts links and addresses may name (``LEARNREC_TEXT_ALLOWED_HOSTS``, comma-separated)."""
    return frozenset(h.strip().lower() for h in get_settings().text_allowed_hosts.split(",") if h.strip())


def _drop_links(text: str, hosts: frozenset[str], found: list[str]) -> str:
    def drop(match: re.Match[str]) -> str:
        if _host(match) in hosts:
            return match.group(0)
        found.append("a link or e-mail address not on the allow-list")
        return " "

    for pattern in (_EMAIL, _SCHEME_LINK, _BARE_LINK):
        text = pattern.sub(drop, text)
    return text


def _apply(text: str, max_chars: int, hosts: frozenset[str] | None) -> tuple[str, list[str]]:
    found: list[str] = []
    step = _controls(text)
    if step != text:
        found.append("control or invisible characters")
    text = _drop_links(step, allowed_hosts() if hosts is None else hosts, found)
    step = _PLACEHOLDER.sub(" ", text)
    if step != text:
        found.append("a template placeholder")
    text = _MARKUP.sub("", _TAG.sub(" ", step))
    if text != step:
        found.append("markup characters")
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_chars:
        found.append(f"longer than {max_chars} characters")
        text = (
            text[:max_chars].rsplit(" ", 1)[0].rstrip(" ,;:-")
            if " " in text[:max_chars]
            else text[:max_chars]
        )
    return text, list(dict.fromkeys(found))


def clean(text: str | None, max_chars: int, *, hosts: frozenset[str] | None = None) -> str:
    """``text`` made safe to show a learner or put in a prompt (see the module docstring)."""
    return _apply(text or "", max_chars, hosts)[0]


def findings(text: str, max_chars: int, *, hosts: frozenset[str] | None = None) -> list[str]:
    """Why ``text`` is not safe as it is (empty: safe); runs of spaces are not a finding."""
    return _apply(text, max_chars, hosts)[1]


def check(texts: Iterable[str], max_chars: int) -> None:
    """Raise ValueError naming what is wrong with the first unsafe text (LLM answer validation)."""
    for text in texts:
        if problems := findings(text, max_chars):
            raise ValueError(f"unsafe text: {', '.join(problems)}")


def fence(text: str | None, max_chars: int) -> str:
    """Untrusted text as data in a prompt: cleaned, so it cannot close the fence, and fenced."""
    return f"[[{clean(text, max_chars)}]]"
