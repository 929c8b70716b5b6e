"""User-facing errors.

Anything the user can fix (a config value, a CLI argument, a model that does not fit) raises
`UserError` with one line that names where the problem is, the value, and what is allowed.
The CLI prints that line and exits 2; the Pulumi program turns it into a `pulumi.RunError`, which
the language host reports without a traceback.
"""

import re

from .secret_values import mask_secrets


class UserError(Exception):
    """A mistake in input the user controls. `str(err)` is the complete one-line message."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Whatever built the line, a key the user pasted is never printed whole (secret_values.mask_secrets),
        # a value with a line break, NUL or terminal escape in it cannot make it two lines or more, and a
        # huge value quoted anywhere in it (a validator's own message too) is cut.
        super().__init__(_cut_long_words(one_line(mask_secrets(message))))


LONGEST_WORD = 200  # characters of one unbroken value shown in a message


def one_line(text: str) -> str:
    """`text` with every control character (line breaks, NUL, terminal escapes) written as its escape."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _cut_long_words(text: str) -> str:
    # No word of a message the code writes comes near this length; a value the user wrote can.
    return re.sub(rf"\S{{{LONGEST_WORD + 1},}}", lambda m: m.group()[:LONGEST_WORD] + "…", text)


class FieldProblem(ValueError):
    """Raised by cross-field checks to point at the settings field that is wrong, relative to the model.

    pydantic reports errors of a model validator at the model's own location; carrying the field
    path lets the message name `serving.replicas.max` instead of `serving.replicas`. It lives here, not in
    settings.py, because the checks that run after parsing (`serving.check_sizing`) raise it too and
    settings.py is theirs to import, not the other way round; `settings.load` renders either as one line.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        # "routes[0].provider" → ("routes", 0, "provider"), the way pydantic locates list items.
        parts: list[str | int] = []
        for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
            parts.append(int(index) if index else name)
        self.field = tuple(parts)
        self.message = message
