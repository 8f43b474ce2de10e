"""The one exception type for user mistakes: the CLI prints its message on one line and exits 1."""


class UserError(Exception):
    """A mistake the user can fix (bad file, bad flag, bad value); the message names the thing and the fix."""


def one_line(e: BaseException, limit: int = 160) -> str:
    """An exception's message as one line for the user: its first line, at most `limit` characters, or its
    type's name when it has none (MemoryError); onnxruntime's and numpy's messages run over several lines."""
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:limit]
