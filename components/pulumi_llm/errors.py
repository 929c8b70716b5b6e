"""User-facing errors.

Anything the user can fix (a config value, a CLI argument, a model that does not fit) raises
`UserError` with one line that names where the problem is, the value, and what is allowed.
The CLI prints that line and exits 2; the Pulumi program turns it into a `pulumi.RunError`, which
the language host reports without a traceback.
"""


class UserError(Exception):
    """A mistake in input the user controls. `str(err)` is the complete one-line message."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        if "\n" in message:
            raise ValueError("UserError messages are one line")
        super().__init__(message)
