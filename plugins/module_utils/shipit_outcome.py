# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outcome of a run: one document per run, channel and host (``meta/outcome.schema.json``).

Built in one place (the ``run_outcome`` action plugin) from explicit facts that the phases of
a playbook hand over: which phase failed and how, the verification verdict, what the rollback
did, the release.  The text an operator reads (the summary and the failure message) is
rendered from the outcome, so what is printed and what is recorded agree by construction.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_verdict import HEALTHY, INCONCLUSIVE, VERDICTS

SCHEMA_VERSION = 1
KINDS = ("deploy", "rollback", "verify")

SUCCESS = "success"
ROLLED_BACK = "rolled_back"
ROLLBACK_FAILED = "rollback_failed"
FAILED = "failed"
REFUSED = "refused"
INVALID = "invalid"
CHECK = "check"
#: The status of a run whose verification could not judge the bot has the verdict's name.
STATUSES = (SUCCESS, ROLLED_BACK, ROLLBACK_FAILED, FAILED, INCONCLUSIVE, REFUSED, INVALID, CHECK)

#: The phases of a run, in order; ``timings`` has one entry per phase that ran.
PHASES = ("validate", "resolve", "preflight", "lock", "build", "switch", "ready", "verify", "rollback", "record")
#: A failure in one of these phases changed nothing: the run was refused.
REFUSING_PHASES = ("preflight", "lock")

ROLLBACK_RESULTS = ("verified", "unverified", "failed", "stopped", "skipped")
TROUBLESHOOTING = "docs/troubleshooting.md"

_CREDENTIALS_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_RUN_ID_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]")


def redact_url(text: Optional[str]) -> Optional[str]:
    """``git+https://user:token@host/x`` -> ``git+https://***@host/x``; anything else unchanged."""
    if text is None:
        return None
    return _CREDENTIALS_RE.sub(lambda match: match.group("scheme") + "***@", str(text))


def utc_stamp(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-29T10:00:05.400Z``."""
    whole = int(epoch)
    millis = round((epoch - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)), millis)


# --------------------------------------------------------------------------- who, why, which run


def run_id_from(env: Mapping[str, str], run_token: str) -> str:
    """The run id: stable across retries of one CI run attempt, unique otherwise."""
    explicit = env.get("SHIPIT_RUN_ID")
    if explicit:
        return _RUN_ID_SAFE_RE.sub("-", explicit)[:128].lstrip("._-") or "run"
    if env.get("GITHUB_RUN_ID"):
        return "gh-%s-%s" % (env["GITHUB_RUN_ID"], env.get("GITHUB_RUN_ATTEMPT") or "1")
    return "local-%s" % hashlib.sha256(run_token.encode("utf-8")).hexdigest()[:16]


def _pr_number(value: Any) -> Optional[int]:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 1 else None


def pr_number_from(env: Mapping[str, str], explicit: Any = None) -> Optional[int]:
    """The pull request: explicit, SHIPIT_PR_NUMBER, or ``refs/pull/<n>/merge``."""
    for candidate in (explicit, env.get("SHIPIT_PR_NUMBER")):
        number = _pr_number(candidate)
        if number:
            return number
    match = re.match(r"^refs/pull/(\d+)/", env.get("GITHUB_REF") or "")
    return int(match.group(1)) if match else None


def trigger_from(env: Mapping[str, str], pr_number: Any = None) -> Dict[str, Any]:
    server = env.get("GITHUB_SERVER_URL") or "https://github.com"
    repository = env.get("GITHUB_REPOSITORY") or None
    run_url = None
    if repository and env.get("GITHUB_RUN_ID"):
        run_url = "%s/%s/actions/runs/%s" % (server, repository, env["GITHUB_RUN_ID"])
        if env.get("GITHUB_RUN_ATTEMPT"):
            run_url += "/attempts/%s" % env["GITHUB_RUN_ATTEMPT"]
    sha = env.get("SHIPIT_GIT_SHA") or env.get("GITHUB_SHA") or None
    return {
        "event_name": env.get("GITHUB_EVENT_NAME") or "manual",
        "ref": env.get("GITHUB_REF") or None,
        "sha": sha.lower() if sha and re.match(r"^[0-9a-fA-F]{7,40}$", sha) else None,
        "run_url": run_url,
        "pr_number": pr_number_from(env, pr_number),
        "repository": repository,
        "workflow": env.get("GITHUB_WORKFLOW") or None,
    }


# --------------------------------------------------------------------------- pieces


def timings_from(marks: Mapping[str, Any], finished: float) -> Dict[str, float]:
    """Seconds per phase from the epoch at which each phase started (the next one ends it)."""
    started = sorted(
        ((float(stamp), name) for name, stamp in marks.items() if name in PHASES and _is_number(stamp)),
    )
    timings: Dict[str, float] = {}
    for index, (stamp, name) in enumerate(started):
        end = started[index + 1][0] if index + 1 < len(started) else finished
        timings[name] = round(max(0.0, end - stamp), 3)
    return timings


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def last_phase(marks: Mapping[str, Any]) -> Optional[str]:
    """The phase the run was in last (where a failure happened)."""
    started = [(float(stamp), name) for name, stamp in marks.items() if name in PHASES and _is_number(stamp)]
    return max(started)[1] if started else None


def check_entry(item: Mapping[str, Any]) -> Dict[str, Any]:
    """One check in the outcome's shape, from a check of any of the collection's modules."""

    def text(value: Any) -> Optional[str]:
        return None if value is None else str(value)

    latency = item.get("latency_ms")
    return {
        "name": str(item.get("name") or "check"),
        "ok": bool(item.get("ok")),
        "expected": text(item.get("expected")),
        "seen": text(item.get("seen")),
        "latency_ms": round(float(latency), 3) if _is_number(latency) and latency >= 0 else None,
        "message": text(item.get("message")),
    }


def verdict_entry(verdict: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if not verdict or verdict.get("verdict") not in VERDICTS:
        return None
    return {
        "verdict": verdict["verdict"],
        "checks": [check_entry(item) for item in verdict.get("checks") or [] if isinstance(item, Mapping)],
    }


def release_ref(release_id: Any, version: Any = None) -> Optional[Dict[str, Any]]:
    if not release_id:
        return None
    return {"id": str(release_id), "version": None if version in (None, "") else str(version)}


def release_entry(release: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if not release or not (release.get("id") or release.get("version") or release.get("source")):
        return None
    sha256 = release.get("artifact_sha256")
    git_sha = release.get("git_sha")
    entry = {
        "id": release.get("id") or None,
        "version": _text_or_none(release.get("version")),
        "project": _text_or_none(release.get("project")),
        "source": redact_url(_text_or_none(release.get("source"))),
        "artifact_sha256": sha256 if isinstance(sha256, str) and re.match(r"^[0-9a-f]{64}$", sha256) else None,
        "git_sha": git_sha.lower() if isinstance(git_sha, str) and re.match(r"^[0-9a-fA-F]{7,40}$", git_sha) else None,
    }
    if release.get("built") is not None:
        entry["built"] = bool(release.get("built"))
    return entry


def _text_or_none(value: Any) -> Optional[str]:
    return None if value in (None, "") else str(value)


# --------------------------------------------------------------------------- status


def decide_status(
    kind: str,
    check_mode: bool,
    failure: Optional[Mapping[str, Any]],
    verdict: Optional[Mapping[str, Any]],
    rollback: Optional[Mapping[str, Any]],
) -> str:
    """The status of a run from what happened (see the schema for each status)."""
    phase = (failure or {}).get("phase")
    if phase == "validate":
        return INVALID
    if check_mode:
        return CHECK
    if phase in REFUSING_PHASES:
        return REFUSED
    if rollback and kind == "deploy":
        return _deploy_rollback_status(rollback)
    verdict_name = (verdict or {}).get("verdict")
    if verdict_name == INCONCLUSIVE:
        return INCONCLUSIVE
    if failure or (verdict_name and verdict_name != HEALTHY):
        return FAILED
    return SUCCESS


def _deploy_rollback_status(rollback: Mapping[str, Any]) -> str:
    result = rollback.get("result")
    if result == "verified":
        return ROLLED_BACK
    if result == "skipped":
        verdict = (rollback.get("cause") or {}).get("verdict")
        return INCONCLUSIVE if verdict == INCONCLUSIVE else FAILED
    return ROLLBACK_FAILED


def failed_check_of(
    status: str, failure: Optional[Mapping[str, Any]], verdict: Optional[Mapping[str, Any]]
) -> Optional[str]:
    if status in (SUCCESS, CHECK):
        return None
    if verdict and verdict.get("failed_check"):
        return str(verdict["failed_check"])
    if failure:
        return str(failure.get("failed_check") or failure.get("phase") or "run")
    return None


# --------------------------------------------------------------------------- the document


def build_outcome(facts: Mapping[str, Any], now: Optional[float] = None) -> Dict[str, Any]:
    """The outcome document from the facts a run handed over (see ``run_outcome``)."""
    finished = time.time() if now is None else now
    started = float(facts.get("started_epoch") or finished)
    kind = facts["kind"]
    failure = facts.get("failure") or None
    verdict = facts.get("verdict") or None
    rollback_facts = facts.get("rollback") or None
    status = decide_status(kind, bool(facts.get("check_mode")), failure, verdict, rollback_facts)
    channel = str(facts.get("channel") or "")
    server_url = _text_or_none(facts.get("server_url"))
    release = release_entry(facts.get("release"))
    live_before = facts.get("live_before") or None
    live_after = facts.get("live_after") or None
    outcome: Dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": "%s:%s:%s:%s" % (facts["run_id"], kind, channel, facts["host"]),
        "run_id": facts["run_id"],
        "kind": kind,
        "status": status,
        "verified": _verified(status, kind, verdict, rollback_facts),
        "channel": channel,
        "environment": str(facts.get("environment") or ""),
        "host": str(facts["host"]),
        "server_url": redact_url(server_url),
        "channel_url": "%s/r/%s" % (redact_url(server_url).rstrip("/"), channel) if server_url and channel else None,
        "release": release,
        "previous_release": release_ref(live_before, facts.get("live_before_version")),
        "rollback": _rollback_entry(rollback_facts),
        "actor": str(facts.get("actor") or "unknown"),
        "trigger": dict(facts["trigger"]),
        "started_at": utc_stamp(started),
        "finished_at": utc_stamp(finished),
        "duration_s": round(max(0.0, finished - started), 3),
        "timings": timings_from(facts.get("marks") or {}, finished),
        "verdict": verdict_entry(verdict),
        "failed_check": failed_check_of(status, failure, verdict),
        "reason": "",
        "next_step": "",
        "changed": bool(live_after) and live_after != live_before and not facts.get("check_mode"),
        "check_mode": bool(facts.get("check_mode")),
        "collection_version": str(facts.get("collection_version") or "0.0.0"),
    }
    outcome["reason"], outcome["next_step"] = explain(outcome, facts)
    warnings = outcome_warnings(outcome, facts)
    if warnings:
        outcome["warnings"] = warnings
    return outcome


_RELEASE_SEGMENT_RE = re.compile(r"^v?(\d+(?:\.\d+)*)")


def _release_segment(version: Optional[str]) -> Optional[Tuple[int, ...]]:
    """``1.10.2rc1`` -> (1, 10, 2): the numeric release part of a version, None when it has none."""
    match = _RELEASE_SEGMENT_RE.match(version or "")
    if not match:
        return None
    numbers = [int(part) for part in match.group(1).split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()  # 2.0 == 2.0.0
    return tuple(numbers)


def is_older(version: Optional[str], than: Optional[str]) -> bool:
    """Whether ``version`` is older than ``than`` by their release numbers (unknown: False)."""
    mine, theirs = _release_segment(version), _release_segment(than)
    return mine is not None and theirs is not None and mine < theirs


#: A release id is ``<version>-<10 hex digits>`` (bot_release); the version is read back from it when not given.
_RELEASE_ID_VERSION_RE = re.compile(r"^(?P<version>.+)-[0-9a-f]{10}$")


def version_of(release: Mapping[str, Any]) -> Optional[str]:
    """A release's version: given, or read from its id."""
    if release.get("version"):
        return str(release["version"])
    match = _RELEASE_ID_VERSION_RE.match(str(release.get("id") or ""))
    return match.group("version") if match else None


#: How roles/bot_rollback/tasks/auto.yml starts the reason of a rollback that found its target drifted.
UNUSABLE_PREVIOUS = "the previous good release is not usable"


def outcome_warnings(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> List[str]:
    """What an operator must notice although the run did what it was asked (``warnings``)."""
    warnings: List[str] = []
    release = outcome.get("release") or {}
    previous = outcome.get("previous_release") or {}
    went_live = bool(release.get("id")) and facts.get("live_after") == release.get("id")
    new_version, live_version = version_of(release), version_of(previous)
    if outcome["kind"] == "deploy" and went_live and is_older(new_version, live_version):
        warnings.append(
            "downgrade: %s -> %s (the live release was newer): release %s replaced %s; if a newer deploy was "
            "meant to win, deploy it again" % (live_version, new_version, release["id"], previous["id"])
        )
    drift = (facts.get("release") or {}).get("drift")
    if outcome["kind"] == "deploy" and drift and release.get("id"):
        warnings.append(
            "rebuilt: %s; it was built again from its artifact instead of reused. A release is never changed after "
            "its build: find out who edits files under releases/ on the host" % drift
        )
    for skipped in (facts.get("rollback") or {}).get("skipped") or []:
        if isinstance(skipped, Mapping) and skipped.get("id"):
            warnings.append("rollback skipped release %s: %s" % (skipped["id"], skipped.get("reason") or "not usable"))
    fallback = (facts.get("rollback") or {}).get("fallback")
    if isinstance(fallback, Mapping) and fallback.get("id"):
        warnings.append("rollback fell back to release %s: %s" % (fallback["id"], fallback.get("reason") or ""))
    return warnings


def _verified(status: str, kind: str, verdict: Any, rollback: Any) -> bool:
    if status == ROLLED_BACK:
        return True
    if status != SUCCESS:
        return False
    if kind == "rollback" and (rollback or {}).get("emergency"):
        return False
    return bool(verdict) and verdict.get("verdict") == HEALTHY


def _rollback_entry(rollback: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if not rollback or rollback.get("result") not in ROLLBACK_RESULTS:
        return None
    target = rollback.get("target") or {}
    return {
        "target": release_ref(target.get("id"), target.get("version")),
        "result": rollback["result"],
        "emergency": bool(rollback.get("emergency")),
        "verdict": verdict_entry(rollback.get("verdict")),
        "reason": str(rollback.get("reason") or ""),
    }


# --------------------------------------------------------------------------- words


def _release_words(outcome: Mapping[str, Any]) -> str:
    release = outcome.get("release") or {}
    if not release.get("id"):
        return "the release"
    if release.get("version"):
        return "release %s (version %s)" % (release["id"], release["version"])
    return "release %s" % release["id"]


def _where(outcome: Mapping[str, Any]) -> str:
    return "channel %s on %s" % (outcome["channel"] or "(not set)", outcome["host"])


def _cause(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> str:
    failure = facts.get("failure") or {}
    verdict = facts.get("verdict") or {}
    if verdict.get("verdict") in VERDICTS and verdict.get("verdict") != HEALTHY and verdict.get("reason"):
        return str(verdict["reason"])
    return _one_line(failure.get("message") or "the %s phase failed" % (failure.get("phase") or "run"))


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def troubleshooting_link(check: Optional[str]) -> str:
    return "%s#%s" % (TROUBLESHOOTING, (check or "run").replace("_", "-"))


def explain(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    """``(reason, next_step)``: one line each."""
    status = outcome["status"]
    explainer = _EXPLAINERS[status]
    reason, next_step = explainer(outcome, facts)
    return _one_line(reason)[:2000], _one_line(next_step)[:2000]


def _explain_success(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    what = _release_words(outcome)
    if outcome["kind"] == "verify":
        return "%s of %s is healthy" % (what, _where(outcome)), ""
    if outcome["kind"] == "rollback" and not outcome["verified"]:
        return (
            "rolled back %s to %s, NOT verified (emergency mode)" % (_where(outcome), what),
            "Verify it as soon as CyTube can be reached: playbooks/verify.yml.",
        )
    verb = "rolled back to" if outcome["kind"] == "rollback" else "runs"
    return "%s %s %s%s, verified healthy" % (_where(outcome), verb, what, _activation_words(outcome, facts)), ""


def _activation_words(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> str:
    """``, built now, restarted`` / ``, already built, not restarted (unchanged)``."""
    words = []
    built = (outcome.get("release") or {}).get("built")
    if built is not None:
        words.append("built now" if built else "already built")
    if facts.get("restarted") is not None:
        words.append("restarted" if facts["restarted"] else "not restarted (unchanged)")
        if facts["restarted"] and facts.get("restart_reason"):
            words[-1] += " (%s)" % facts["restart_reason"]
    return "".join(", " + word for word in words)


def _explain_rolled_back(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    rollback = outcome["rollback"] or {}
    target = rollback.get("target") or {}
    return (
        "deploy of %s to %s FAILED check %s: %s. Rolled back to %s (version %s): verified healthy. "
        "Release %s is marked bad (kept for forensics; rollbacks skip it)."
        % (
            _release_words(outcome),
            _where(outcome),
            outcome["failed_check"],
            _cause(outcome, facts),
            target.get("id"),
            target.get("version") or "?",
            (outcome["release"] or {}).get("id"),
        ),
        "Fix the bot and deploy again; see %s." % troubleshooting_link(outcome["failed_check"]),
    )


def _explain_rollback_failed(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    rollback = outcome["rollback"] or {}
    target = rollback.get("target") or {}
    head = "deploy of %s to %s FAILED check %s: %s." % (
        _release_words(outcome),
        _where(outcome),
        outcome["failed_check"],
        _cause(outcome, facts),
    )
    if rollback.get("result") == "stopped":
        why = str(rollback.get("reason") or "")
        stopped = (
            " %s%s." % (why[:1].upper(), why[1:])
            if why.startswith(UNUSABLE_PREVIOUS)
            else " There is no previous good release to roll back to, so the bot was stopped."
        )
        return (
            head + stopped + " Release %s is marked bad." % (outcome["release"] or {}).get("id"),
            "The channel has no bot now: deploy a good release, or roll back to a named one (rollback_to=list).",
        )
    return (
        head
        + " Rolled back to %s (version %s): the rollback itself FAILED: %s."
        % (target.get("id"), target.get("version") or "?", rollback.get("reason") or "unknown error"),
        "The channel may have no healthy bot: check it now (playbooks/verify.yml), roll back to another release "
        "(rollback_to=list) or use an emergency rollback; see %s." % troubleshooting_link("rollback"),
    )


def _explain_failed(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    kind = outcome["kind"]
    failure = facts.get("failure") or {}
    check = outcome["failed_check"]
    if kind == "verify":
        return (
            "%s of %s is UNHEALTHY: %s" % (_release_words(outcome), _where(outcome), _cause(outcome, facts)),
            "Roll back (playbooks/rollback.yml) or fix the bot; see %s." % troubleshooting_link(check),
        )
    if failure.get("phase") == "build":
        return (
            "build of %s for %s failed: %s; the live release is untouched"
            % (_release_words(outcome), _where(outcome), _cause(outcome, facts)),
            "Fix the bot source or its dependencies and deploy again; see %s." % troubleshooting_link("build"),
        )
    if failure.get("phase") == "record" and outcome["verified"] is False and facts.get("verdict"):
        return (
            "%s of %s was verified healthy and is live, but recording it failed: %s"
            % (_release_words(outcome), _where(outcome), _cause(outcome, facts)),
            "Nothing was rolled back. Fix the host (disk, permissions) and re-run the same deploy: it records the "
            "live release without restarting it.",
        )
    rollback = outcome["rollback"] or {}
    if rollback.get("result") == "skipped":
        return (
            "%s failed check %s: %s. The live release was not changed by this run, so nothing was rolled back."
            % (_where(outcome), check, _cause(outcome, facts)),
            "Use playbooks/rollback.yml to roll back; see %s." % troubleshooting_link(check),
        )
    return (
        "%s of %s failed%s: %s; nothing was changed"
        % (kind, _where(outcome), (" check %s" % check) if check else "", _cause(outcome, facts)),
        "See %s." % troubleshooting_link(check),
    )


def _explain_inconclusive(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    if outcome["kind"] == "verify":
        return (
            "%s of %s is INCONCLUSIVE: %s" % (_release_words(outcome), _where(outcome), _cause(outcome, facts)),
            "CyTube could not be checked; verify again once it is reachable.",
        )
    return (
        "%s of %s to %s is INCONCLUSIVE: %s. CyTube itself could not be checked, so the bot was not blamed and "
        "nothing was rolled back (no blind rollback): %s is live but unverified."
        % (
            outcome["kind"],
            _release_words(outcome),
            _where(outcome),
            _cause(outcome, facts),
            (outcome["release"] or {}).get("id") or "the release",
        ),
        "Re-run once CyTube is reachable (it verifies the live release again and rolls back if it is bad), "
        "or roll back with playbooks/rollback.yml.",
    )


def _explain_refused(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    failure = facts.get("failure") or {}
    return (
        "%s of %s refused before anything changed (%s): %s"
        % (outcome["kind"], _where(outcome), failure.get("phase"), _cause(outcome, facts)),
        "Nothing was changed; re-run when the cause is gone; see %s." % troubleshooting_link(failure.get("phase")),
    )


def _explain_invalid(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    return (
        "the inputs of %s are not usable, nothing was contacted or changed: %s"
        % (_where(outcome), _cause(outcome, facts)),
        "Fix the values named above in the inventory or the -e options, and run again.",
    )


def _explain_check(outcome: Mapping[str, Any], facts: Mapping[str, Any]) -> Tuple[str, str]:
    verb = {"deploy": "would run", "rollback": "would roll back to", "verify": "would verify"}[outcome["kind"]]
    if outcome["kind"] == "rollback":
        verb = "would roll back from %s to" % ((outcome.get("previous_release") or {}).get("id") or "nothing")
    return (
        "%s %s %s%s (check mode, nothing changed, not verified)"
        % (_where(outcome), verb, _release_words(outcome), _activation_words(outcome, facts)),
        "",
    )


_EXPLAINERS = {
    SUCCESS: _explain_success,
    ROLLED_BACK: _explain_rolled_back,
    ROLLBACK_FAILED: _explain_rollback_failed,
    FAILED: _explain_failed,
    INCONCLUSIVE: _explain_inconclusive,
    REFUSED: _explain_refused,
    INVALID: _explain_invalid,
    CHECK: _explain_check,
}


# --------------------------------------------------------------------------- the summary


def failure_text(outcome: Mapping[str, Any]) -> str:
    """The message a run ends with: the reason, then the next step."""
    if not outcome.get("next_step"):
        return str(outcome["reason"])
    return "%s Next: %s" % (outcome["reason"], outcome["next_step"])


def summary_lines(outcome: Mapping[str, Any], extra: Sequence[str] = ()) -> List[str]:
    """The readable end-of-run summary: one headline, then one line per check and phase."""
    lines = ["%s %s: %s" % (outcome["kind"].upper(), outcome["status"].upper(), outcome["reason"])]
    lines.extend("WARNING: " + warning for warning in outcome.get("warnings") or [])
    lines.extend(extra)
    if outcome.get("verdict"):
        lines.append("checks (%s):" % outcome["verdict"]["verdict"])
        lines.extend(_check_line(check) for check in outcome["verdict"]["checks"])
    rollback = outcome.get("rollback") or {}
    if rollback.get("verdict"):
        lines.append("checks of the release rolled back to (%s):" % rollback["verdict"]["verdict"])
        lines.extend(_check_line(check) for check in rollback["verdict"]["checks"])
    if outcome.get("timings"):
        lines.append(
            "timings: "
            + ", ".join("%s %.2f s" % (name, seconds) for name, seconds in outcome["timings"].items())
            + ", total %.2f s" % outcome["duration_s"]
        )
    if outcome.get("next_step"):
        lines.append("next: " + outcome["next_step"])
    lines.append("outcome %s" % outcome["id"])
    return lines


def _check_line(check: Mapping[str, Any]) -> str:
    latency = check.get("latency_ms")
    text = "  %-22s %-4s %9s" % (
        check["name"],
        "ok" if check["ok"] else "FAIL",
        "%.1f ms" % latency if latency is not None else "-",
    )
    if not check["ok"]:
        text += "  expected %s, seen %s" % (check.get("expected"), check.get("seen"))
    return text
