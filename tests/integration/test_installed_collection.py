"""The installed collection is the product: the tarball, installed outside the checkout, works on its own.

Once per module: a fresh virtualenv with only ansible-core (the version pinned in requirements/controller.txt)
and the users' ``requirements.txt``; the collection tarball built from the checkout with that venv's
``ansible-galaxy`` and installed into a directory outside the checkout. Every command then runs from a working
directory outside the checkout, with an empty ansible.cfg (Ansible's defaults: the default callback, no
``callback_result_format = yaml``), an environment of its own (nothing of the checkout on PATH or PYTHONPATH),
and the installed collection as the only one on ANSIBLE_COLLECTIONS_PATH:

* ``ansible localhost -m cytube.shipit.cytube_check`` against the sandbox's CyTube stand-in, on a channel of
  its own where no bot runs (nothing here depends on other tests' bots): the verdict is "bot not in channel";
* ``ansible-playbook cytube.shipit.deploy --tags validate`` with a one-host inventory whose SSH port is closed
  (any contact would show as UNREACHABLE): a bad value fails naming the value and the fix, readable with the
  default callback; good values pass.

Read-only on the sandbox: one probe connection to the stand-in, no deploys.
Run: ``sudo .venv/bin/pytest tests/integration/test_installed_collection.py`` (about 45 s, most of it pip).
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER_URL = "http://10.231.255.1:8080"
PROBE_USER = "shipprobe"
CHANNEL = "shipit-installed"  # no bot ever joins it: the verdict does not depend on other runs
ABSENT_BOT = "shipbot-installed"
SANDBOX_1 = "10.231.1.2"
CLOSED_SSH_PORT = 1  # nothing listens there: a task that contacted the host would end UNREACHABLE

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]


def pinned_ansible_core() -> str:
    """``ansible-core==X.Y.Z`` as requirements/controller.txt pins it."""
    for line in (REPO / "requirements" / "controller.txt").read_text().splitlines():
        if line.strip().startswith("ansible-core=="):
            return line.strip()
    raise AssertionError("requirements/controller.txt pins no ansible-core")


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} failed (rc={done.returncode}):\n{done.stdout}{done.stderr}"
    return done.stdout


@dataclasses.dataclass(frozen=True)
class Result:
    rc: int
    output: str


@dataclasses.dataclass(frozen=True)
class Installed:
    """The user's world: a venv with ansible-core + requirements.txt, the installed tarball, a bare workdir."""

    venv_bin: Path
    collections: Path
    workdir: Path
    home: Path

    def env(self) -> dict[str, str]:
        empty_config = self.workdir / "empty.cfg"
        empty_config.touch()
        return {
            "PATH": f"{self.venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            # The controller's CyTube connection bucket is shared with every other run on this machine.
            "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")),
            "ANSIBLE_CONFIG": str(empty_config),
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }

    def run(self, tool: str, *args: str, timeout: float = 180) -> Result:
        done = subprocess.run(
            [str(self.venv_bin / tool), *args],
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    assert REPO not in root.parents, "the install must be outside the checkout"
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, pinned_ansible_core(), "-r", str(REPO / "requirements.txt")], cwd=root, timeout=480)
    world = Installed(venv / "bin", root / "collections", root / "work", root / "home")
    world.workdir.mkdir()
    world.home.mkdir()
    dist = root / "dist"
    galaxy = str(world.venv_bin / "ansible-galaxy")
    run([galaxy, "collection", "build", "--output-path", str(dist), str(REPO)], cwd=world.workdir, env=world.env())
    (tarball,) = dist.glob("cytube-shipit-*.tar.gz")
    run(
        [galaxy, "collection", "install", "-p", str(world.collections), str(tarball)],
        cwd=world.workdir,
        env=world.env(),
    )
    return world


@pytest.fixture(scope="module")
def validate_inventory(installed: Installed) -> dict[str, Any]:
    """A one-host inventory (sandbox-1, SSH port closed) with the channel's settings; returns its secrets too."""
    bot_password = "bot-" + secrets.token_urlsafe(12)
    probe_password = "probe-" + secrets.token_urlsafe(12)
    inventory = installed.workdir / "hosts.yml"
    inventory.write_text(
        f"""all:
  children:
    shipit_bots:
      hosts:
        sandbox-1:
          ansible_host: {SANDBOX_1}
          ansible_port: {CLOSED_SSH_PORT}
          ansible_user: root
  vars:
    shipit_server_url: {SERVER_URL}
    shipit_channel: {CHANNEL}
    shipit_bot_name: {ABSENT_BOT}
    shipit_bot_password: {bot_password}
    shipit_probe_user: {PROBE_USER}
    shipit_probe_password: {probe_password}
    shipit_health_port: 8799
    shipit_bot_source: {installed.workdir}/cytube_refbot-1.0.0-py3-none-any.whl
"""
    )
    return {"path": str(inventory), "passwords": (bot_password, probe_password)}


def recap(output: str, host: str) -> dict[str, int]:
    match = re.search(rf"^{re.escape(host)}\s*:\s*(?P<counts>ok=.*)$", output, re.MULTILINE)
    assert match, f"no PLAY RECAP line for {host}:\n{output}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group("counts"))}


def test_ansible_sees_only_the_installed_collection_and_its_own_defaults(installed: Installed) -> None:
    listed = installed.run("ansible-galaxy", "collection", "list", "cytube.shipit")
    assert listed.rc == 0, listed.output
    assert f"# {installed.collections}/ansible_collections" in listed.output
    assert str(REPO) not in listed.output
    changed = installed.run("ansible-config", "dump", "--only-changed")
    assert changed.rc == 0, changed.output
    settings = {line.split("(", 1)[0] for line in changed.output.splitlines() if "(" in line}
    # Colour only: nothing that changes the callback, its result format or where collections come from.
    assert settings <= {"COLLECTIONS_PATHS", "CONFIG_FILE", "ANSIBLE_NOCOLOR", "ANSIBLE_FORCE_COLOR"}, changed.output


def test_cytube_check_from_the_installed_collection_says_the_bot_is_not_in_the_channel(
    installed: Installed, sandbox_secrets: dict[str, Any]
) -> None:
    probe_password = sandbox_secrets["probe"]
    arguments = (
        f"server_url={SERVER_URL} channel={CHANNEL} bot_name={ABSENT_BOT} "
        f"probe_user={PROBE_USER} probe_password={probe_password} connect_timeout=3 reply_timeout=2"
    )
    checked = installed.run("ansible", "localhost", "-m", "cytube.shipit.cytube_check", "-a", arguments)
    assert checked.rc == 0, checked.output  # a verdict is a result, not a task failure (fail_on is empty)
    assert '"verdict": "unhealthy"' in checked.output, checked.output
    assert '"failed_check": "bot_present"' in checked.output, checked.output
    assert f"bot '{ABSENT_BOT}' is not in channel '{CHANNEL}'" in checked.output
    assert f"logged in as '{PROBE_USER}'" in checked.output  # the probe really got in: the verdict is earned
    assert probe_password not in checked.output


def test_validate_refuses_a_bad_value_naming_it_and_the_fix_without_contacting_the_host(
    installed: Installed, validate_inventory: dict[str, Any]
) -> None:
    refused = installed.run(
        "ansible-playbook", "-i", validate_inventory["path"], "cytube.shipit.deploy", "--tags", "validate",
        "-e", "shipit_keep_releases=-1",
    )  # fmt: skip
    assert refused.rc != 0, refused.output
    assert "shipit_keep_releases '-1' is not valid: a whole number >= 0" in refused.output, refused.output
    assert recap(refused.output, "sandbox-1")["unreachable"] == 0, refused.output
    for password in validate_inventory["passwords"]:
        assert password not in refused.output


def test_the_validate_failure_is_readable_with_the_default_callback(
    installed: Installed, validate_inventory: dict[str, Any]
) -> None:
    refused = installed.run(
        "ansible-playbook", "-i", validate_inventory["path"], "cytube.shipit.deploy", "--tags", "validate",
        "-e", "shipit_keep_releases=-1", "-e", "shipit_lock_wait=-5",
    )  # fmt: skip
    assert refused.rc != 0, refused.output
    problems = ("shipit_keep_releases '-1' is not valid", "shipit_lock_wait '-5' is not valid")
    # What a person reads: the output without the default callback's one-line JSON result ("fatal: ... => {...}").
    readable = [line for line in refused.output.splitlines() if not line.startswith("fatal:")]
    for problem in problems:
        shown = [line for line in readable if problem in line]
        assert shown, f"{problem!r} is only in the JSON result:\n{refused.output}"
        for line in shown:
            assert "\\n" not in line and not line.lstrip().startswith(("{", '"')), line


def test_validate_passes_good_values_without_contacting_the_host(
    installed: Installed, validate_inventory: dict[str, Any]
) -> None:
    passed = installed.run(
        "ansible-playbook", "-i", validate_inventory["path"], "cytube.shipit.deploy", "--tags", "validate"
    )
    assert passed.rc == 0, passed.output
    assert "Stop after the input checks" in passed.output
    counts = recap(passed.output, "sandbox-1")
    assert counts["unreachable"] == 0 and counts["failed"] == 0 and counts["changed"] == 0, passed.output
    for password in validate_inventory["passwords"]:
        assert password not in passed.output
