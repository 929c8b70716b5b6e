"""Is this string a secret *value*? One detector for the settings' secret-name fields, tags and labels, and for
every user-facing message, which never prints one unmasked.

Stack files hold names of secrets, never their values (docs/ARCHITECTURE.md, "Secrets never in config or
state"): a value pasted where a name belongs would land in plain text in the stack file, the state and every
tag of every resource. Pure: no imports beyond the standard library, so errors.py and settings can share it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

MASK = "…"
"""What follows the first characters of a masked value."""
SHOWN = 4
"""Characters of a secret-like value a message may show (a prefix that names the kind: sk-a, AIza, AKIA, hf_…)."""

WHERE_VALUES_GO = "pulumi-llm secrets put <provider> --stack <stack>"
"""Where a provider key goes instead: straight into the cloud's secret store (cli_secrets.py)."""

# Vendor formats, each with the shape its issuer documents; the kind names the key in the message.
_KNOWN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Anthropic API key", re.compile(r"sk-ant-[A-Za-z0-9_-]{16,}")),
    ("an OpenAI API key", re.compile(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("a Google API key", re.compile(r"AIza[0-9A-Za-z_-]{35}")),
    ("an AWS access key id", re.compile(r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}")),
    ("a Hugging Face token", re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("a GitHub token", re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a Slack token", re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Stripe key", re.compile(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("a JSON Web Token", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    # Azure AI services / Azure OpenAI keys are 32 hex digits; storage account keys 86 base64 characters and "==".
    ("an Azure key", re.compile(r"(?:[0-9a-fA-F]{32}|[A-Za-z0-9+/]{86}==)")),
)

# A token that could be a random secret: long, from a base64/url-safe alphabet, no spaces.
_CANDIDATE = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]+")
# An AWS secret access key: 40 base64 characters, no '-' or '_' (which kebab- and snake-case names have).
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_ENTROPY_BITS = 4.0
"""Shannon bits per character above which a long mixed-case alphanumeric run reads as random. English words and
kebab-case names stay near 3-3.5; 40 random base62 characters are near 5."""


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


_PIECE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_WORDY = 3.5
"""Mean length of a token's CamelCase pieces at and above which it reads as words (AmazonEC2ContainerRegistryReadOnly:
4.6); in random base62 the case and the digits change every one or two characters."""


def _mixed_and_random(token: str) -> bool:
    classes = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    pieces = _PIECE.findall(token)
    wordy = bool(pieces) and sum(map(len, pieces)) / len(pieces) >= _WORDY
    return classes == 3 and not wordy and _entropy(token) >= _ENTROPY_BITS


def _random_segment(segment: str) -> bool:
    if len(segment) < 32:
        return False
    if _HEX.fullmatch(segment) and len(segment) in (40, 64):
        return False  # a git commit or a sha256 digest: identifiers, not credentials
    # Names join words with '-' or '_' (ELBSecurityPolicy-TLS13-1-2-2021-06); a random token has one long run.
    longest = max(re.split(r"[-_]", segment), key=len)
    return len(longest) >= 20 and _mixed_and_random(longest) and _mixed_and_random(segment)


def _random_looking(token: str) -> bool:
    if _AWS_SECRET.fullmatch(token) and _mixed_and_random(token):
        return True
    # A path (a key prefix, a repository) is random only where one of its segments is.
    return any(_random_segment(part) for part in token.split("/"))


def secret_kind(value: str) -> str | None:
    """What kind of secret `value` looks like ("an OpenAI API key", …), or None when it reads as a name."""
    text = value.strip()
    for kind, pattern in _KNOWN:
        if pattern.fullmatch(text):
            return kind
    if (_CANDIDATE.fullmatch(text) or _AWS_SECRET.fullmatch(text)) and _random_looking(text):
        return "a long random string (a key or token)"
    return None


def mask(value: str) -> str:
    """The first SHOWN characters and MASK: enough to recognise which key it was, never enough to use it."""
    return value.strip()[:SHOWN] + MASK


# Words of a message: runs between spaces, quotes and brackets; inside one, the parts between : @ and =, then
# their '/' segments, then their '.' pieces (a secret may follow `key=`, sit in a URI, a path or a file name).
_WORD = re.compile(r"[^\s'\"`()\[\]{}<>,;]+")
_PART = re.compile(r"[^:@=]+")
_SEGMENT = re.compile(r"[^/]+")
_DOTTED = re.compile(r"[^.]+")


def _masked(text: str, inner: re.Pattern[str] | None) -> str:
    core = text.rstrip(".:").lstrip("/")
    if secret_kind(core):
        start = text.index(core)
        return text[:start] + mask(core) + text[start + len(core) :]
    return inner.sub(lambda m: _masked(m.group(0), _INNER.get(inner)), text) if inner else text


_INNER = {_PART: _SEGMENT, _SEGMENT: _DOTTED}


def _mask_word(match: re.Match[str]) -> str:
    return _masked(match.group(0), _PART)


def _kinds(text: str, inner: re.Pattern[str] | None) -> Iterator[str]:
    core = text.rstrip(".:").lstrip("/")
    kind = secret_kind(core)
    if kind is not None:
        yield kind
    elif inner is not None:
        for match in inner.finditer(text):
            yield from _kinds(match.group(0), _INNER.get(inner))


def secret_inside(text: str) -> str | None:
    """What kind of secret a word of `text` looks like, or None: the words mask_secrets would mask, so a value
    pasted into a path (/var/lib/<token>), a URL (https://user:<token>@host) or an argument (--key=<token>) counts."""
    for word in _WORD.finditer(text):
        for kind in _kinds(word.group(0), _PART):
            return kind
    return None


def mask_secrets(text: str) -> str:
    """`text` with every secret-like word masked: the last guard of every user-facing message."""
    return _WORD.sub(_mask_word, text)
