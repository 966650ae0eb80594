"""The launcher every release runs (roles/bot_release/vars/main.yml), under /bin/sh as the unit starts it.

Arguments as roles/bot_release/tasks/main.yml passes them: WORKDIR PASSWORD_ENV CREDENTIAL -- BOT ARGV...
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

LAUNCHER = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/bot_release/vars/main.yml").read_text())[
    "__bot_release_launcher"
]
#: A stand-in bot: where it runs, the password variable, its arguments; exits with $EXIT.
FAKE_BOT = 'pwd; echo "pw=${CYTUBE_BOT_PASSWORD:-unset}"; for a do echo "arg=$a"; done; exit "${EXIT:-0}"'

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    release = tmp_path / "releases" / "1.0.0-abc"
    shared = tmp_path / "shared"
    creds = tmp_path / "credentials"
    for path in (release, shared, creds):
        path.mkdir(parents=True)
    (creds / "bot-password").write_text("s3cret")
    (creds / "shipit_0123456789-config.json").write_text("{}")
    return {"release": release, "shared": shared, "creds": creds}


def launch(
    layout: dict[str, Path], workdir: str, password_env: str, *bot: str, unit: bool = True, exit_code: int = 0
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "EXIT": str(exit_code)}
    if unit:
        env["CREDENTIALS_DIRECTORY"] = str(layout["creds"])
    argv = ["/bin/sh", "-c", LAUNCHER, "cytube-bot", workdir, password_env, "bot-password", "--", *bot]
    return subprocess.run(argv, cwd=layout["release"], env=env, capture_output=True, text=True, check=False)


def test_shared_workdir_env_password_and_config_credential(layout: dict[str, Path]) -> None:
    done = launch(
        layout, "../../shared", "CYTUBE_BOT_PASSWORD", "/bin/sh", "-c", FAKE_BOT, "bot", "@CREDENTIALS_DIRECTORY@/x"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(layout["shared"].resolve())
    assert lines[1] == "pw=s3cret"
    assert lines[2] == f"arg={layout['creds']}/x"


def test_release_workdir_and_no_password_variable(layout: dict[str, Path]) -> None:
    done = launch(layout, "", "", "/bin/sh", "-c", FAKE_BOT, "bot", "--config", "{release}/config.toml")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        str(layout["release"].resolve()),
        "pw=unset",
        "arg=--config",
        "arg={release}/config.toml",
    ]


@pytest.mark.parametrize("workdir", ["../../shared", ""])
def test_the_bot_exit_status_is_the_unit_exit_status(layout: dict[str, Path], workdir: str) -> None:
    assert launch(layout, workdir, "", "/bin/sh", "-c", FAKE_BOT, exit_code=3).returncode == 3


def test_outside_a_unit_the_bot_runs_in_place_untouched(layout: dict[str, Path]) -> None:
    """The build's config check: no credentials, no working directory change, no substitution."""
    done = launch(layout, "../../shared", "CYTUBE_BOT_PASSWORD", "/bin/sh", "-c", FAKE_BOT, "b", "@x@", unit=False)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [str(layout["release"].resolve()), "pw=unset", "arg=@x@"]


def test_a_missing_credential_stops_the_start(layout: dict[str, Path]) -> None:
    (layout["creds"] / "bot-password").unlink()
    done = launch(layout, "", "CYTUBE_BOT_PASSWORD", "/bin/sh", "-c", FAKE_BOT)
    assert done.returncode != 0 and "pw=" not in done.stdout


def test_sigterm_to_every_process_ends_with_the_bot_status(layout: dict[str, Path]) -> None:
    """systemd stops the unit by signalling every process: the launcher waits for the bot and exits with its status."""
    bot = 'trap "exit 0" TERM; echo up; while :; do sleep 0.05; done'
    env = {"PATH": os.environ["PATH"], "CREDENTIALS_DIRECTORY": str(layout["creds"])}
    argv = ["/bin/sh", "-c", LAUNCHER, "cytube-bot", "../../shared", "", "bot-password", "--", "/bin/sh", "-c", bot]
    proc = subprocess.Popen(
        argv, cwd=layout["release"], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        # The bot is up once it says so (the launcher set its trap right after starting it).
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        os.killpg(proc.pid, signal.SIGTERM)  # the whole group, as KillMode=control-group does
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
