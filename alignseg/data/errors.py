"""The one exception type for data a user got wrong (paths, file contents, names, sizes)."""


class DataError(ValueError):
    """Raised with a message that names the offending file or folder and what was expected there."""
