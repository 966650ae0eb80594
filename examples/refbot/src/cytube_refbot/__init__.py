"""cytube-refbot: a small CyTube chat bot that answers !ping with its version."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "cytube-refbot"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
