"""The one exception type users see: a one-line message, exit status 2 from the CLI."""


class NSTError(Exception):
    """Bad input or an impossible request, described in one line that names the file."""

    def __init__(self, message: str):
        # Keep it to one line whatever the underlying library said.
        super().__init__(" ".join(str(message).split()))


class OutOfMemory(NSTError):
    """A run that did not fit in memory after all: the plan's estimate was short."""
