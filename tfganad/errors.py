"""Exception types raised for bad user input; each carries a one-line message."""


class TfganadError(ValueError):
    """Base class of user-facing errors: the message names the bad value and what is allowed."""


class ConfigError(TfganadError):
    """A recipe key or value is unknown or has the wrong type."""


class DataError(TfganadError):
    """A data source is missing, unreadable, corrupt or yields an unusable split."""


class ExportError(TfganadError):
    """A path is not a SavedModel or an export cannot be written."""


class TrainingError(TfganadError):
    """Training diverged (non-finite losses) with nothing good to keep."""
