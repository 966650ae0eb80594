"""Stand-in for get-pip.py, used by ansible-test from its cache.

ansible-test downloads get-pip.py from a host this project cannot reach. It looks
for a cached copy first, so this file is placed there by scripts/setup.sh. It
bootstraps pip with ensurepip and then upgrades to the pip requested on the
command line (ansible-test passes e.g. ``pip==24.2``) from the package index.
"""

import os
import subprocess
import sys


def main() -> int:
    saved = {key: value for key, value in os.environ.items() if key.startswith("PIP_")}
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True)
    os.environ.update(saved)
    requested = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    if requested:
        subprocess.run([sys.executable, "-m", "pip", "install", "--upgrade", *requested], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
