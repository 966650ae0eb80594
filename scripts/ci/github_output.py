"""Step outputs for GitHub Actions: ``name=value`` lines appended to ``$GITHUB_OUTPUT`` (nothing when unset)."""

from __future__ import annotations

import os


def write_outputs(values: dict[str, str]) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.writelines(f"{name}={value}\n" for name, value in values.items())
