"""Unit tests for shipit_wheelhouse: source classification, cache keys, content hash, packing."""

from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_wheelhouse as wh

pytestmark = pytest.mark.timeout(30)


def make_wheel(
    directory: Path,
    name: str = "mybot",
    version: str = "1.2.3",
    payload: str = "x = 1\n",
    stamp: tuple = (2020, 1, 1, 0, 0, 0),
) -> Path:
    """``<name>-<version>-py3-none-any.whl`` holding ``payload``; ``stamp`` is every zip entry's time."""
    path = directory / (f"{name}-{version}-py3-none-any.whl")
    record = f"{name}/__init__.py,sha256={hashlib.sha256(payload.encode()).hexdigest()},{len(payload)}\n"
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, data in ((f"{name}/__init__.py", payload), (f"{name}-{version}.dist-info/RECORD", record)):
            info = zipfile.ZipInfo(arcname, date_time=stamp)
            zf.writestr(info, data)
    return path


def test_classify_wheel(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    info = wh.classify(wheel.name, base_dir=str(tmp_path))
    assert info["kind"] == "wheel" and info["pinned"] and info["spec"] == str(wheel)


def test_classify_missing_wheel_names_value_and_fix(tmp_path: Path) -> None:
    with pytest.raises(wh.WheelhouseError) as err:
        wh.classify("dist/nope-1.0-py3-none-any.whl", base_dir=str(tmp_path))
    assert "nope-1.0-py3-none-any.whl" in str(err.value) and "pinned pip requirement" in str(err.value)


@pytest.mark.parametrize(
    "spec,pinned",
    [
        ("cytube-refbot==2.0.0", True),
        ("cytube-refbot === 2.0.0", True),
        ("cytube-refbot>=2", False),
        ("cytube-refbot", False),
    ],
)
def test_classify_requirement(spec: str, pinned: bool) -> None:
    info = wh.classify(spec)
    assert info["kind"] == "requirement" and info["pinned"] is pinned and info["name"] == "cytube-refbot"


def test_classify_vcs() -> None:
    sha = "a" * 40
    pinned = wh.classify(f"git+https://example.invalid/org/bot.git@{sha}#egg=bot")
    assert pinned["kind"] == "vcs" and pinned["pinned"] and pinned["git_sha"] == sha
    branch = wh.classify("bot @ git+https://example.invalid/org/bot.git@main")
    assert branch["kind"] == "vcs" and not branch["pinned"] and branch["git_sha"] is None


@pytest.mark.parametrize("spec", ["", "   ", "name==1.0; python_version<'3'", "name==1.0\nother"])
def test_classify_rejects_nonsense(spec: str) -> None:
    with pytest.raises(wh.WheelhouseError):
        wh.classify(spec)


def test_cache_key_follows_wheel_content(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    key1 = wh.cache_key(wh.classify(str(wheel)), "3.11", ["linux_x86_64"], "pip", [])
    make_wheel(tmp_path, payload="x = 2\n")  # same file name, new content
    key2 = wh.cache_key(wh.classify(str(wheel)), "3.11", ["linux_x86_64"], "pip", [])
    assert key1 != key2
    assert key2 != wh.cache_key(wh.classify(str(wheel)), "3.12", ["linux_x86_64"], "pip", [])


def test_record_digest_ignores_zip_timestamps(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_wheel(tmp_path / "a", stamp=(2020, 1, 1, 0, 0, 0))
    second = make_wheel(tmp_path / "b", stamp=(2024, 5, 5, 5, 5, 5))
    assert wh.sha256_file(str(first)) != wh.sha256_file(str(second))
    assert wh.record_digest(str(first)) == wh.record_digest(str(second))


def test_parse_wheel_filename() -> None:
    assert wh.parse_wheel_filename("cytube_refbot-2.0.0-py3-none-any.whl") == ("cytube-refbot", "2.0.0")
    with pytest.raises(wh.WheelhouseError):
        wh.parse_wheel_filename("README.md")


def test_pack_is_deterministic(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels)
    manifest = {"wheels": [{"file": "mybot-1.2.3-py3-none-any.whl"}], "version": "1.2.3"}
    one = wh.pack(str(wheels), manifest, str(tmp_path / "one.tar"))
    two = wh.pack(str(wheels), manifest, str(tmp_path / "two.tar"))
    assert one == two
    with tarfile.open(tmp_path / "one.tar") as tar:
        assert tar.getnames() == [wh.MANIFEST_NAME, "mybot-1.2.3-py3-none-any.whl"]
        assert json.load(tar.extractfile(wh.MANIFEST_NAME))["version"] == "1.2.3"


def test_resolve_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = make_wheel(tmp_path)
    calls = []

    def fake_build(info, workdir, python_version, platforms, pip_spec, pip_args):
        calls.append(info["spec"])
        wheels = Path(workdir) / "wheels"
        wheels.mkdir(parents=True)
        (wheels / wheel.name).write_bytes(wheel.read_bytes())
        return {
            "project": "mybot",
            "version": "1.2.3",
            "requirement": "mybot==1.2.3",
            "content_hash": "c" * 64,
            "wheels": [{"file": wheel.name}],
            "pip_wheel": "pip-1-py3-none-any.whl",
            "source": info["spec"],
        }

    monkeypatch.setattr(wh, "build_wheelhouse", fake_build)
    cache = tmp_path / "cache"
    first = wh.resolve(str(wheel), str(cache))
    second = wh.resolve(str(wheel), str(cache))
    assert calls == [str(wheel)]
    assert not first["cache_hit"] and second["cache_hit"]
    assert first["archive"] == second["archive"] and Path(first["archive"]).is_file()
    assert first["archive_sha256"] == wh.sha256_file(first["archive"])
    assert [p.name for p in cache.iterdir() if p.name.startswith(".build-")] == []


def wheelhouse(directory: Path, **payloads: str) -> list[dict[str, Any]]:
    """A pip wheel and one wheel per ``name=payload``, described as build_wheelhouse does."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [make_wheel(directory, name="pip", version="24.0", payload="pip\n")]
    paths += [make_wheel(directory, name=name, payload=payload) for name, payload in payloads.items()]
    return [wh.describe_wheel(str(path)) for path in paths]


def test_content_hash_is_the_same_for_the_same_content(tmp_path: Path) -> None:
    first = wheelhouse(tmp_path / "a", mybot="x = 1\n", dep="y = 1\n")
    again = wheelhouse(tmp_path / "b", dep="y = 1\n", mybot="x = 1\n")
    assert [w["file"] for w in first] != [w["file"] for w in again]  # another order
    assert wh.content_hash(first) == wh.content_hash(again)


def test_content_hash_ignores_zip_timestamps_and_the_pip_wheel(tmp_path: Path) -> None:
    first = wheelhouse(tmp_path / "a", mybot="x = 1\n")
    (tmp_path / "b").mkdir()
    rebuilt = [
        wh.describe_wheel(str(make_wheel(tmp_path / "b", name="pip", version="25.1", payload="newer pip\n"))),
        wh.describe_wheel(str(make_wheel(tmp_path / "b", payload="x = 1\n", stamp=(2024, 5, 5, 5, 5, 5)))),
    ]
    assert wh.content_hash(first) == wh.content_hash(rebuilt)


@pytest.mark.parametrize(
    "changed",
    [
        {"mybot": "x = 2\n", "dep": "y = 1\n"},  # the bot's code
        {"mybot": "x = 1\n", "dep": "y = 2\n"},  # a dependency's code
        {"mybot": "x = 1\n"},  # a dependency less
        {"mybot": "x = 1\n", "dep": "y = 1\n", "extra": "z\n"},  # a dependency more
    ],
)
def test_content_hash_follows_every_wheel_of_the_bot(tmp_path: Path, changed: dict[str, str]) -> None:
    base = wheelhouse(tmp_path / "a", mybot="x = 1\n", dep="y = 1\n")
    assert wh.content_hash(wheelhouse(tmp_path / "b", **changed)) != wh.content_hash(base)


def test_content_hash_follows_a_dependency_version(tmp_path: Path) -> None:
    base = wheelhouse(tmp_path / "a", mybot="x = 1\n", dep="y = 1\n")
    bumped = wheelhouse(tmp_path / "b", mybot="x = 1\n")
    bumped.append(wh.describe_wheel(str(make_wheel(tmp_path / "b", name="dep", version="1.2.4", payload="y = 1\n"))))
    assert wh.content_hash(bumped) != wh.content_hash(base)


def test_a_token_in_a_vcs_source_stays_out_of_the_manifest_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "git+https://deploy:ghp_s3cr3tT0ken@git.example/org/mybot.git@0123456789abcdef0123456789abcdef01234567"
    info = wh.classify(source)

    def pip_builds_the_bot(argv: list[str], env: Any = None, timeout: float = 900) -> tuple[int, str]:
        if argv[0] == "wheel":
            make_wheel(Path(argv[argv.index("--wheel-dir") + 1]))
        else:
            make_wheel(Path(argv[argv.index("--dest") + 1]), name="pip", version="24.0")
        return 0, ""

    monkeypatch.setattr(wh, "_pip", pip_builds_the_bot)
    manifest = wh.build_wheelhouse(info, str(tmp_path / "ok"), "3.11", [], "pip==24.0", [])
    assert "ghp_s3cr3tT0ken" not in json.dumps(manifest)
    assert manifest["source"] == "git+https://***@git.example/org/mybot.git@0123456789abcdef0123456789abcdef01234567"

    monkeypatch.setattr(wh, "_pip", lambda argv, env=None, timeout=900: (1, f"ERROR: cannot clone {source}"))
    with pytest.raises(wh.WheelhouseError) as failed:
        wh.build_wheelhouse(info, str(tmp_path / "fails"), "3.11", [], "pip==24.0", [])
    assert "ghp_s3cr3tT0ken" not in str(failed.value)
