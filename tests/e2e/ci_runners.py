"""Just enough of GitHub Actions and GitLab CI to run the CI templates' jobs for real, here:
each job's shell commands (`run:` of its steps, its `script:` lines) run in bash in a fresh copy
of the repository, with the variables the CI service would set, the template's own conditions
(`if:`, `rules:`) deciding what runs, and its artifacts kept between jobs as the service keeps
them. The service's own tools (`gh`, `curl` to the GitLab API) are the recording stand-ins of
tests/e2e/ci_fakes.py. The install step is skipped (the test's venv has the tool): the templates
mark it (`id: install` on GitHub, an entry starting ``# install:`` on GitLab).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.ci_fakes import GITLAB_API
from tests.e2e.conftest import child_env

JOB_TIMEOUT = 300  # seconds for one job's shell commands

# -- expressions: GitHub `${{ }}` / `if:` and GitLab `rules: if:` ------------------------------

_TOKEN = re.compile(r"\s*('(?:[^']|'')*'|\"[^\"]*\"|==|!=|&&|\|\||!|\(|\)|\$?[A-Za-z_][\w.\-]*"
                    r"(?:\(\))?|\d+)")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        found = _TOKEN.match(text, pos)
        assert found, f"cannot read the expression {text!r} at {text[pos:]!r}"
        out.append(found[1])
        pos = found.end()
    return out


def evaluate(text: str, atom: Callable[[str], Any]) -> Any:
    """Evaluate ``text`` (operators ``! == != && || ( )``, quoted strings, numbers); every other
    token is looked up with ``atom``. Unknown syntax fails the test rather than guessing."""
    tokens = _tokens(text)

    def take() -> str:
        return tokens.pop(0)

    def primary() -> Any:
        token = take()
        if token == "(":
            value = either()
            assert take() == ")", text
            return value
        if token == "!":
            return not primary()
        if token[0] in "'\"":
            return token[1:-1].replace("''", "'")
        if token.isdigit():
            return token
        return atom(token)

    def compare() -> Any:
        left = primary()
        while tokens and tokens[0] in ("==", "!="):
            op, right = take(), primary()
            left = (str(left) == str(right)) == (op == "==")
        return left

    def chain(operator: str, operand: Callable[[], Any]) -> Any:
        """``operand (operator operand)*``: && and || with their short-circuit values."""
        left = operand()
        while tokens and tokens[0] == operator:
            take()
            right = operand()
            left = (left and right) if operator == "&&" else (left or right)
        return left

    def both() -> Any:
        return chain("&&", compare)

    def either() -> Any:
        return chain("||", both)

    value = either()
    assert not tokens, f"cannot read the expression {text!r}: {tokens} left"
    return value


def _lookup(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ""
        node = node[part]
    return node


# -- what both services share ----------------------------------------------------------------


@dataclass
class JobResult:
    """One job's outcome: passed or not, its log (every command's stdout and stderr), the files
    of its workspace when it ended, and (GitHub) the job summary it wrote."""

    name: str
    ok: bool
    log: str
    workspace: Path
    summary: str = ""
    run: str = ""  # GitHub: the run id, to run a later job of the same run

    def file(self, name: str) -> str:
        return (self.workspace / name).read_text(encoding="utf-8")


@dataclass
class World:
    """The CI service's side: repository snapshots by commit, the state URL and secrets, the
    artifact store, and what the stand-ins answer and recorded."""

    root: Path
    secrets: dict[str, str]
    commits: dict[str, Path] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    jobs_run: int = 0

    def __post_init__(self) -> None:
        self.bin = self.root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.artifacts = self.root / "artifacts"
        self.artifacts.mkdir(exist_ok=True)
        self.records_file = self.root / "records.jsonl"
        self.records_file.touch()
        self.world_file = self.root / "world.json"
        self.data = {"pulls": {}, "runs": [], "merge_requests": {}, "pipelines": [], "jobs": [],
                     "artifacts": str(self.artifacts),
                     "gitlab_token": self.secrets["GITLAB_API_TOKEN"]}
        self.save()
        self._shims()

    def _shims(self) -> None:
        """`gh` and `curl` as the recording stand-ins; `reconcile` as this checkout's CLI."""
        python = sys.executable
        scripts = {"gh": f'exec "{python}" -m tests.e2e.ci_fakes gh "$@"',
                   "curl": f'exec "{python}" -m tests.e2e.ci_fakes curl "$@"',
                   "reconcile": f'exec "{python}" -m reconciler "$@"',
                   "python3": f'exec "{python}" "$@"'}
        for name, line in scripts.items():
            path = self.bin / name
            path.write_text(f"#!/usr/bin/env bash\n{line}\n", encoding="utf-8")
            path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def save(self) -> None:
        self.world_file.write_text(json.dumps(self.data), encoding="utf-8")

    def commit(self, sha: str, tree: Path) -> str:
        """Record ``tree`` as the repository at commit ``sha``."""
        self.commits[sha] = tree
        return sha

    def records(self, *actions: str) -> list[dict[str, Any]]:
        """What the stand-ins received, in order, of the given actions."""
        lines = self.records_file.read_text(encoding="utf-8").splitlines()
        return [e for e in map(json.loads, lines) if e["action"] in actions]

    def checkout(self, sha: str) -> Path:
        """A fresh working copy of commit ``sha``, as a job starts with."""
        self.jobs_run += 1
        workspace = self.root / f"job-{self.jobs_run}"
        shutil.copytree(self.commits[sha], workspace)
        return workspace

    def env(self, workspace: Path, variables: Mapping[str, str]) -> dict[str, str]:
        env = child_env(CI="true", CI_FAKE_WORLD=str(self.world_file),
                        CI_FAKE_RECORDS=str(self.records_file), NO_COLOR="1", COLUMNS="250")
        for name in list(env):  # nothing of this machine's CI leaks into the emulated one
            if name.startswith(("GITHUB_", "GITLAB_", "CI_", "GH_")) and name != "CI_FAKE_WORLD":
                env.pop(name)
        env.update(CI_FAKE_WORLD=str(self.world_file), CI_FAKE_RECORDS=str(self.records_file))
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env.update(variables)
        return env

    def bash(self, script: str, workspace: Path, env: Mapping[str, str],
             options: str) -> tuple[int, str]:
        path = workspace.parent / f"{workspace.name}.sh"
        path.write_text(script, encoding="utf-8")
        proc = subprocess.run(["bash", "--noprofile", "--norc", *options.split(), str(path)],
                              cwd=workspace, env=dict(env), capture_output=True, text=True,
                              timeout=JOB_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
        return proc.returncode, proc.stdout + proc.stderr


def load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# -- GitHub Actions ------------------------------------------------------------------------------

_TEMPLATE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class GitHubActions:
    """Runs a job of a GitHub Actions workflow file as a runner would."""

    WORKFLOW = "reconcile.yml"

    def __init__(self, path: Path, world: World) -> None:
        self.workflow = load(path)
        self.world = world
        self.next_run = 1000

    def triggers(self) -> dict[str, Any]:
        # YAML 1.1 reads the key `on` as True
        return self.workflow.get("on") or self.workflow[True]  # type: ignore[no-any-return]

    def jobs_for(self, context: Mapping[str, Any]) -> list[str]:
        """The jobs whose `if:` holds for this event."""
        return [name for name, job in self.workflow["jobs"].items()
                if self._truth(job.get("if", "success()"), context, failed=False)]

    def _truth(self, condition: Any, context: Mapping[str, Any], failed: bool) -> bool:
        text = str(condition).strip()
        if text.startswith("${{") and text.endswith("}}"):
            text = text[3:-2]
        functions = {"success()": not failed, "failure()": failed, "always()": True,
                     "cancelled()": False}

        def atom(token: str) -> Any:
            if token in functions:
                return functions[token]
            assert "(" not in token, f"no stand-in for the function {token}"
            return _lookup(context, token)

        return bool(evaluate(text, atom))

    def _expand(self, value: Any, context: Mapping[str, Any]) -> str:
        return _TEMPLATE.sub(lambda m: str(evaluate(m[1], lambda t: _lookup(context, t))),
                             str(value))

    def run(self, job_name: str, event_name: str, sha: str,
            event: Mapping[str, Any] | None = None, run_id: str | None = None,
            needs: Mapping[str, JobResult] | None = None) -> JobResult:
        """Run ``job_name`` for an ``event_name`` event on commit ``sha``; the run is then listed
        (with its artifacts) as GitHub lists it to `gh run list` / `gh run download`. Pass the
        ``run_id`` and ``needs`` of an earlier job to run a later job of the same run."""
        if run_id is None:
            self.next_run += 1
            run_id = str(self.next_run)
        github: dict[str, Any] = {"event_name": event_name, "event": dict(event or {}), "sha": sha,
                  "repository": "isp/network-specs", "token": "ghs_fake-job-token",
                  "run_id": run_id}
        context: dict[str, Any] = {
            "github": github, "secrets": self.world.secrets, "steps": {}, "vars": {},
            "inputs": dict((event or {}).get("inputs", {})),
            "needs": {n: {"result": "success" if r.ok else "failure"}
                      for n, r in (needs or {}).items()}}
        assert job_name in self.jobs_for(context), f"job {job_name} does not run on {event_name}"
        job = self.workflow["jobs"][job_name]
        workspace = self.world.checkout(sha)
        files = {n: workspace.parent / f"{workspace.name}.{n}" for n in ("output", "env", "summary")}
        for path in files.values():
            path.touch()
        base: dict[str, str] = {"GITHUB_EVENT_NAME": event_name, "GITHUB_SHA": sha, "GITHUB_RUN_ID": run_id,
                "GITHUB_REPOSITORY": github["repository"], "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_OUTPUT": str(files["output"]), "GITHUB_ENV": str(files["env"]),
                "GITHUB_STEP_SUMMARY": str(files["summary"])}
        for scope in (self.workflow.get("env", {}), job.get("env", {})):
            base.update({k: self._expand(v, context) for k, v in scope.items()})
        failed, log = False, []
        for step in job["steps"]:
            if step.get("id") == "install":
                continue
            if not self._truth(step.get("if", "success()"), context, failed):
                continue
            if "uses" in step:
                self._action(step, context, workspace, run_id)
                continue
            env = {**base, **{k: self._expand(v, context) for k, v in step.get("env", {}).items()}}
            env.update(_key_values(files["env"]))
            files["output"].write_text("")
            code, output = self.world.bash(step["run"], workspace, self.world.env(workspace, env),
                                           "-eo pipefail")
            log.append(f"--- {step.get('name', step['run'][:40])} (exit {code})\n{output}")
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": _key_values(files["output"])}
            failed = failed or code != 0
        self.world.data["runs"].append({"databaseId": int(run_id), "workflow": self.WORKFLOW,
                                        "headSha": sha, "event": event_name,
                                        "conclusion": "failure" if failed else "success"})
        self.world.save()
        return JobResult(job_name, not failed, "\n".join(log), workspace,
                         files["summary"].read_text(encoding="utf-8"), run_id)

    def _action(self, step: Mapping[str, Any], context: Mapping[str, Any], workspace: Path,
                run_id: str) -> None:
        """The actions the template uses: checkout and setup-python are what the runner already
        did; upload-artifact keeps the files under the run's artifact store, download-artifact
        fetches them from this run's store."""
        action = str(step["uses"]).split("@")[0]
        if action in ("actions/checkout", "actions/setup-python"):
            return
        name = self._expand(step["with"]["name"], context)
        if action == "actions/download-artifact":
            shutil.copytree(self.world.artifacts / run_id / name,
                            workspace / step["with"].get("path", "."), dirs_exist_ok=True)
            return
        assert action == "actions/upload-artifact", f"no stand-in for {step['uses']}"
        target = self.world.artifacts / run_id / name
        target.mkdir(parents=True)
        for line in str(step["with"]["path"]).split():
            if (workspace / line).is_file():
                shutil.copyfile(workspace / line, target / line)


def _key_values(path: Path) -> dict[str, str]:
    """NAME=value lines, as $GITHUB_OUTPUT and $GITHUB_ENV hold them."""
    pairs = (line.partition("=") for line in path.read_text(encoding="utf-8").splitlines())
    return {name: value for name, sep, value in pairs if sep}


# -- GitLab CI -----------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


class GitLabCI:
    """Runs a job of a .gitlab-ci.yml as a runner would (bash, `set -eo pipefail`, before_script
    and script in one shell, artifacts kept `when: always` or on success)."""

    PROJECT_ID = "42"

    def __init__(self, path: Path, world: World) -> None:
        self.pipeline = load(path)
        self.world = world
        self.next_id = 5000

    @staticmethod
    def _holds(rules: list[Mapping[str, Any]], variables: Mapping[str, str]) -> bool:
        def atom(token: str) -> Any:
            assert token.startswith("$"), f"cannot read {token!r} in a GitLab rule"
            return variables.get(token[1:], "")  # an unset variable compares as empty

        return any(evaluate(str(rule["if"]), atom) for rule in rules)

    def defaults(self, given: Mapping[str, str]) -> dict[str, str]:
        """The pipeline's `variables:` (a value, or a form entry with its `value`), expanded
        over ``given``, which wins, as a variable given to "Run pipeline" does."""
        variables = dict(given)
        for name, entry in self.pipeline.get("variables", {}).items():
            value = entry["value"] if isinstance(entry, dict) else entry
            expanded = _VARIABLE.sub(lambda m: variables.get(m[1] or m[2], ""), str(value))
            variables.setdefault(name, expanded)
        return variables

    def jobs_for(self, given: Mapping[str, str]) -> list[str]:
        variables = self.defaults(given)
        if not self._holds(self.pipeline["workflow"]["rules"], variables):
            return []
        return [name for name, job in self.pipeline.items()
                if isinstance(job, dict) and "script" in job and not name.startswith(".")
                and self._holds(job.get("rules", [{"if": "$CI"}]), variables)]

    def run(self, job_name: str, source: str, sha: str, mr: Mapping[str, str] | None = None,
            pipeline_id: int | None = None,
            given: Mapping[str, str] | None = None) -> tuple[JobResult, int]:
        """Run ``job_name`` in a pipeline of ``source`` (merge_request_event, push, schedule,
        web) on commit ``sha`` with the variables ``given`` to "Run pipeline"; returns the
        result and the pipeline id (pass it back to run a later job of the same pipeline: the
        artifacts of its earlier jobs are then in the workspace, as GitLab passes them on)."""
        self.next_id += 1
        job_id, pipeline_id = self.next_id, pipeline_id or self.next_id
        workspace = self.world.checkout(sha)
        variables: dict[str, str] = {"CI": "true", "GITLAB_CI": "true", "CI_PIPELINE_SOURCE": source,
                     "CI_COMMIT_SHA": sha, "CI_DEFAULT_BRANCH": "main", "CI_JOB_ID": str(job_id),
                     "CI_PIPELINE_ID": str(pipeline_id), "CI_PROJECT_ID": self.PROJECT_ID,
                     "CI_API_V4_URL": GITLAB_API, "CI_PROJECT_DIR": str(workspace),
                     "CI_JOB_NAME": job_name, **self.world.secrets, **(given or {})}
        if source == "merge_request_event":
            assert mr is not None
            variables.update(CI_MERGE_REQUEST_IID=mr["iid"],
                             CI_MERGE_REQUEST_DESCRIPTION=mr.get("description", ""))
        else:
            variables["CI_COMMIT_BRANCH"] = "main"
        assert job_name in self.jobs_for(variables), f"job {job_name} does not run on {source}"
        variables = self.defaults(variables)
        for earlier in self.world.data["jobs"]:
            if earlier["pipeline"] == pipeline_id:
                shutil.copytree(self.world.artifacts / str(earlier["id"]), workspace,
                                dirs_exist_ok=True)
        job = self.pipeline[job_name]
        before = job.get("before_script", self.pipeline.get("default", {}).get("before_script", []))
        entries = [e for e in [*before, *job["script"]] if not str(e).startswith("# install:")]
        code, output = self.world.bash("\n".join(map(str, entries)), workspace,
                                       self.world.env(workspace, variables), "-eo pipefail")
        ok = code == 0
        artifacts = job.get("artifacts", {})
        target = self.world.artifacts / str(job_id)
        target.mkdir(parents=True)
        if artifacts and (ok or artifacts.get("when") == "always"):
            for name in artifacts["paths"]:
                if (workspace / name).is_file():
                    shutil.copyfile(workspace / name, target / name)
        self.world.data["jobs"].append({"id": job_id, "name": job_name, "pipeline": pipeline_id,
                                        "status": "success" if ok else "failed"})
        if mr is not None and not any(p["id"] == pipeline_id for p in self.world.data["pipelines"]):
            self.world.data["pipelines"].append({"id": pipeline_id, "mr": mr["iid"], "sha": sha,
                                                 "status": "success" if ok else "failed"})
        self.world.save()
        return JobResult(job_name, ok, f"--- {job_name} (exit {code})\n{output}", workspace), \
            pipeline_id
