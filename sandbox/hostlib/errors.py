"""The two ways a sandbox command fails."""


class UsageError(Exception):
    """Bad input or environment: one line on stderr saying what to do, exit code 2."""


class SandboxError(Exception):
    """An action on the sandbox failed: one line on stderr, exit code 1."""
