"""Errors that the CLI turns into one clear line and a non-zero exit code."""


class LowbitError(Exception):
    """Base of every error a user can cause or fix; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class UsageError(LowbitError):
    """Bad input: an impossible config, an unknown name, an unreadable file (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config field with a value outside what is allowed.

    The message always names the field, the value and what is allowed, so that the one line
    the CLI prints is enough to fix the input.
    """

    def __init__(self, field: str, value: object, allowed: str, *, context: str = ""):
        self.field = field
        self.value = value
        self.allowed = allowed
        where = f"{context}: " if context else ""
        shown = repr(getattr(value, "name", value))
        super().__init__(f"{where}{field}={shown} is not allowed; {allowed}")


class ToolError(LowbitError):
    """A required external tool is missing or failed (exit code 2 when missing)."""

    exit_code = 2


class SimulationError(LowbitError):
    """The simulator could not run, or a core disagreed with its golden model (exit code 1)."""

    exit_code = 1
