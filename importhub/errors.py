"""One family of expected errors, each with a stable code that API clients and tests can rely on."""


class ImportHubError(Exception):
    """An expected failure with a stable `code` and a message written for the user."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, details=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def __str__(self) -> str:
        return self.message


class NotFound(ImportHubError):
    code = "not_found"
    http_status = 404


class ConfigError(ImportHubError):
    """A table, column or alias configuration that cannot be accepted."""

    code = "invalid_config"


class SchemaChangeRefused(ConfigError):
    """A change to a physical table that the database cannot make safely."""

    code = "schema_change_refused"


class FileRejected(ImportHubError):
    """A whole file that cannot be read or imported."""

    code = "file_rejected"
    http_status = 422


class LimitExceeded(ImportHubError):
    code = "limit_exceeded"
    http_status = 413


class StorageUnavailable(ImportHubError):
    """The server cannot write where uploads are kept (folder missing, not a folder, read-only, full)."""

    code = "upload_dir_unwritable"
    http_status = 503
