"""The one exception type for user mistakes: the CLI prints its message on one line and exits 1."""


class UserError(Exception):
    """A mistake the user can fix (bad file, bad flag, bad value); the message names the thing and the fix."""
