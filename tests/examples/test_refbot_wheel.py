"""The wheel: built with any version, reports it, pins its dependencies."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

from refbot_harness import BUILT_VERSION, REPO, Installed, child_env

PYPROJECT = REPO / "examples" / "refbot" / "pyproject.toml"


def test_installed_wheel_reports_its_version(refbot_install: Installed) -> None:
    env = child_env(pythonpath=refbot_install.target)
    script = subprocess.run([refbot_install.script, "--version"], capture_output=True, text=True, env=env, timeout=30)
    assert script.stdout.strip() == f"cytube-refbot {BUILT_VERSION}"
    code = "import cytube_refbot; print(cytube_refbot.__version__)"
    module = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert module.stdout.strip() == BUILT_VERSION


def test_build_leaves_the_checked_in_version_alone(refbot_install: Installed) -> None:
    checked_in = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert checked_in != BUILT_VERSION
    assert refbot_install.wheel.name == f"cytube_refbot-{BUILT_VERSION}-py3-none-any.whl"
    assert not list((REPO / "examples" / "refbot").glob("**/*.egg-info"))


def test_build_is_reproducible(refbot_install: Installed, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), BUILT_VERSION, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rebuilt = Path(result.stdout.strip())
    assert rebuilt.parent == tmp_path
    assert sha256(rebuilt) == sha256(refbot_install.wheel)


def test_build_rejects_a_bad_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), "not a version", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not a PEP 440 version" in result.stderr
    assert not list(tmp_path.iterdir())


def test_dependencies_are_pinned_to_the_controller_versions(refbot_install: Installed) -> None:
    with zipfile.ZipFile(refbot_install.wheel) as wheel:
        metadata = wheel.read(f"cytube_refbot-{BUILT_VERSION}.dist-info/METADATA").decode()
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert requires, metadata
    for requirement in requires:
        name, pinned = requirement.split("==")
        distribution = name.split("[")[0]
        assert pinned == version(distribution), f"{requirement} but the controller has {version(distribution)}"
    assert {r.split("[")[0].split("==")[0] for r in requires} >= {"python-socketio", "requests", "websocket-client"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
