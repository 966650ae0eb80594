"""cytube.shipit dashboard: the deployment record of every run outcome."""

__version__ = "0.1.0"
