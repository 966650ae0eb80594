"""The controller-only setup of the deploy, release and rollback jobs (scripts/ci/setup-controller.sh, run by
.github/actions/setup) works as a runner's non-root user with the system's python3, from nothing."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP = REPO_ROOT / "scripts" / "ci" / "setup-controller.sh"
RUNNER_USER = "nobody"
SYSTEM_PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switches to the unprivileged user nobody")


def as_runner(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``argv`` as ``nobody`` with a runner's environment: its own HOME and RUNNER_TEMP, no root."""
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "RUNNER_TEMP": str(home),
        "GITHUB_ENV": str(home / "github_env"),
        "GITHUB_PATH": str(home / "github_path"),
        "SHIPIT_PYTHON": SYSTEM_PYTHON,
    }
    command = [
        "runuser",
        "-u",
        RUNNER_USER,
        "--",
        "env",
        "-i",
        *(f"{k}={v}" for k, v in {**base, **env}.items()),
        *argv,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection as a runner checks it out: files an unprivileged user can read, owned by nobody else."""
    target = tmp_path_factory.mktemp("checkout") / "shipit"
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    archive = subprocess.run(
        ["tar", "--null", "-T", "-", "-cf", "-"], input=listing, cwd=REPO_ROOT, capture_output=True
    )
    target.mkdir()
    subprocess.run(["tar", "-xf", "-"], input=archive.stdout, cwd=target, check=True)
    for path in [target, *target.parents]:
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
    return target


@pytest.fixture(scope="module")
def runner_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("runner-home")
    shutil.chown(home, RUNNER_USER)
    yield home


def exported(home: Path) -> dict[str, str]:
    lines = (home / "github_env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_setup_as_an_unprivileged_user_makes_a_working_controller(collection: Path, runner_home: Path) -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----"
    done = as_runner(
        runner_home,
        "bash",
        str(collection / "scripts/ci/setup-controller.sh"),
        SHIPIT_DEPLOY_KEY=key,
        SHIPIT_KNOWN_HOSTS="bots-1.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert key not in done.stdout + done.stderr
    env = exported(runner_home)
    key_file = Path(env["ANSIBLE_PRIVATE_KEY_FILE"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key_file.owner() == RUNNER_USER
    assert "StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_ARGS"]
    venv_bin = (runner_home / "github_path").read_text().strip()
    doc = as_runner(
        runner_home,
        f"{venv_bin}/ansible-doc",
        "cytube.shipit.cytube_check",
        ANSIBLE_CONFIG=env["ANSIBLE_CONFIG"],
        ANSIBLE_COLLECTIONS_PATH=env["ANSIBLE_COLLECTIONS_PATH"],
    )
    assert doc.returncode == 0 and "cytube_check" in doc.stdout, doc.stderr
    again = as_runner(runner_home, "bash", str(collection / "scripts/ci/setup-controller.sh"))
    assert again.returncode == 0 and "is up to date" in again.stdout


def test_a_deploy_key_without_pinned_host_keys_is_refused(collection: Path, runner_home: Path) -> None:
    done = as_runner(runner_home, "bash", str(collection / "scripts/ci/setup-controller.sh"), SHIPIT_DEPLOY_KEY="k")
    assert done.returncode == 2
    assert "SHIPIT_KNOWN_HOSTS is empty" in done.stderr and "never trusted on first use" in done.stderr
