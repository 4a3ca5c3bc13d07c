"""The CI templates of examples/ci/, run for real: each job's shell commands against the served
simulators, in a copy of the telephony-only example repository, with the CI service emulated by
tests/e2e/ci_runners.py (variables, conditions, artifacts) and its tools by ci_fakes.py.

Each test runs against both templates: the GitHub Actions workflow and the GitLab CI pipeline.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from tests.e2e.ci_runners import GitHubActions, GitLabCI, JobResult, World
from tests.e2e.conftest import REPO, Cli, Sim, child_env, serve_simulator

pytestmark = pytest.mark.e2e

GITHUB_TEMPLATE = REPO / "examples/ci/github/reconcile.yml"
GITLAB_TEMPLATE = REPO / "examples/ci/gitlab/.gitlab-ci.yml"
EXAMPLE = REPO / "examples/telephony-only"


@pytest.fixture(scope="module")
def served_joinville() -> Iterator[Sim]:
    """A second SaperX STFC tenant: the example's stfc-joinville integration."""
    token = "e2e-jv-" + "5f1c0a9b7d3e"
    with serve_simulator("saperx-stfc", token, "--removal-delay", "0.5") as (url, client):
        yield Sim(url, token, client)


@pytest.fixture
def joinville(served_joinville: Sim) -> Sim:
    served_joinville.client.post("/_sim/reset").raise_for_status()
    served_joinville.configure(removal_delay=0.5)
    return served_joinville


class Ci(Protocol):
    """One CI service's side of the GitOps loop, as the tests drive it."""

    world: World

    def review(self, number: int, head: str, description: str = "") -> JobResult: ...
    def merge(self, number: int, head: str, merged: str) -> JobResult: ...
    def schedule(self, main: str) -> JobResult: ...
    def replan(self, main: str) -> tuple[str, JobResult]: ...
    def comments(self) -> list[str]: ...


class GitHub:
    def __init__(self, world: World) -> None:
        self.world = world
        self.actions = GitHubActions(GITHUB_TEMPLATE, world)

    def review(self, number: int, head: str, description: str = "") -> JobResult:
        event = {"number": number, "pull_request": {"number": number, "body": description,
                                                    "head": {"sha": head}}}
        assert self.actions.jobs_for({"github": {"event_name": "pull_request"}}) == ["plan"]
        return self.actions.run("plan", "pull_request", head, event)

    def merge(self, number: int, head: str, merged: str) -> JobResult:
        self.world.data["pulls"][merged] = [{"number": number, "head": {"sha": head},
                                             "merged_at": "2026-11-26T10:00:00Z"}]
        self.world.save()
        assert self.actions.jobs_for({"github": {"event_name": "push"}}) == ["apply"]
        return self.actions.run("apply", "push", merged)

    def schedule(self, main: str) -> JobResult:
        assert self.actions.jobs_for({"github": {"event_name": "schedule"}}) == ["drift"]
        return self.actions.run("drift", "schedule", main)

    def replan(self, main: str) -> tuple[str, JobResult]:
        """Run workflow, job replan: its plan (in the run summary), then the apply it feeds
        (once the environment's reviewers approve)."""
        event = {"inputs": {"job": "replan", "allow": ""}}
        assert self.actions.jobs_for({"github": {"event_name": "workflow_dispatch"},
                                      "inputs": event["inputs"]}) == ["replan"]
        plan = self.actions.run("replan", "workflow_dispatch", main, event)
        assert plan.ok, plan.log
        apply = self.actions.run("apply", "workflow_dispatch", main, event, run_id=plan.run,
                                 needs={"replan": plan})
        return plan.summary, apply

    def comments(self) -> list[str]:
        found = self.world.records("pr comment")
        for entry in found:  # one comment per pull request, edited on every push
            assert entry["args"][:2] == ["--edit-last", "--create-if-none"], entry["args"]
        return [entry["body"] for entry in found]


class GitLab:
    def __init__(self, world: World) -> None:
        self.world = world
        self.ci = GitLabCI(GITLAB_TEMPLATE, world)

    def review(self, number: int, head: str, description: str = "") -> JobResult:
        mr = {"iid": str(number), "description": description}
        assert self.ci.jobs_for({"CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event"}) \
            == ["plan"]
        return self.ci.run("plan", "merge_request_event", head, mr)[0]

    def merge(self, number: int, head: str, merged: str) -> JobResult:
        self.world.data["merge_requests"][merged] = [{"iid": number, "sha": head,
                                                      "state": "merged"}]
        self.world.save()
        assert self.ci.jobs_for({"CI": "true", "CI_PIPELINE_SOURCE": "push",
                                 "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}) \
            == ["apply"]
        # a push to another branch starts no pipeline at all
        assert self.ci.jobs_for({"CI": "true", "CI_PIPELINE_SOURCE": "push",
                                 "CI_COMMIT_BRANCH": "feature", "CI_DEFAULT_BRANCH": "main"}) == []
        return self.ci.run("apply", "push", merged)[0]

    def schedule(self, main: str) -> JobResult:
        assert self.ci.jobs_for({"CI": "true", "CI_PIPELINE_SOURCE": "schedule"}) == ["drift"]
        return self.ci.run("drift", "schedule", main)[0]

    def replan(self, main: str) -> tuple[str, JobResult]:
        """Run pipeline with RECONCILE_JOB=replan: its plan (in the job log), then its manual
        apply job, played."""
        web = {"CI": "true", "CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "main"}
        assert self.ci.jobs_for(web) == ["drift"]  # "Run pipeline" with the form's default
        given = {"RECONCILE_JOB": "replan"}
        assert self.ci.jobs_for({**web, **given}) == ["replan", "apply"]
        plan, pipeline = self.ci.run("replan", "web", main, given=given)
        assert plan.ok, plan.log
        return plan.log, self.ci.run("apply", "web", main, pipeline_id=pipeline, given=given)[0]

    def comments(self) -> list[str]:
        created = self.world.records("mr note")
        assert len({e["mr"] for e in created}) == len(created), "one note per MR, then edits"
        found = self.world.records("mr note", "mr note edit")
        assert all(entry["field"] == "body" for entry in found)
        return [entry["body"] for entry in found]


class Repo:
    """The operator's spec repository: the telephony-only example with its endpoints pointed at
    the served simulators, one snapshot per commit."""

    def __init__(self, root: Path, world: World, endpoints: dict[str, str]) -> None:
        self.root, self.world, self.endpoints = root, world, endpoints

    def commit(self, sha: str, edit: Any = None, files: dict[str, str] | None = None) -> str:
        """Commit ``sha``: the example's specs, changed by ``edit(specs)``, and ``files`` (path
        from the repository root: text) beside them."""
        tree = self.root / sha
        shutil.copytree(EXAMPLE, tree / "specs", ignore=shutil.ignore_patterns("README.md"))
        integrations = tree / "specs/integrations.yaml"
        text = integrations.read_text(encoding="utf-8")
        for name, url in self.endpoints.items():  # stfc-floripa first, then stfc-joinville
            text = text.replace("endpoint: embedded", f"endpoint: {url}", 1)
            assert f"{name}:" in text
        integrations.write_text(text, encoding="utf-8")
        (tree / ".github/workflows").mkdir(parents=True)
        shutil.copyfile(GITHUB_TEMPLATE, tree / ".github/workflows/reconcile.yml")
        shutil.copyfile(GITLAB_TEMPLATE, tree / ".gitlab-ci.yml")
        if edit is not None:
            edit(tree / "specs")
        for path, content in (files or {}).items():
            (tree / path).write_bytes(content.encode("utf-8"))  # as written: CRLF stays CRLF
        return self.world.commit(sha, tree)

    def operator(self, sha: str) -> Cli:
        """The CLI in commit ``sha``'s tree with the same state and secrets as CI: what an
        operator (or another pipeline) runs by hand."""
        env = child_env(NO_COLOR="1", COLUMNS="250", **{
            k: v for k, v in self.world.secrets.items() if k.startswith("SAPERX")})
        env["RECONCILER_STATE"] = self.world.secrets["RECONCILER_STATE"]
        return Cli(self.world.commits[sha], env)


@pytest.fixture(params=["github", "gitlab"])
def ci(request: pytest.FixtureRequest, tmp_path: Path, sim: Sim, joinville: Sim) -> Ci:
    secrets = {"RECONCILER_STATE": f"sqlite:///{tmp_path / 'shared-state' / 'reconciler.db'}",
               "SAPERX_STFC_TOKEN": sim.token, "SAPERX_STFC_JOINVILLE_TOKEN": joinville.token,
               "GITLAB_API_TOKEN": "glpat-e2e-fake"}
    world = World(tmp_path / "ci", secrets)
    return GitHub(world) if request.param == "github" else GitLab(world)


@pytest.fixture
def repo(ci: Ci, tmp_path: Path, sim: Sim, joinville: Sim) -> Repo:
    return Repo(tmp_path / "commits", ci.world,
                {"stfc-floripa": sim.url, "stfc-joinville": joinville.url})


def sha(n: int) -> str:
    return f"{n:040x}"


def move_clients_off_floripa_centro(specs: Path) -> None:
    """Retire the floripa-centro range (50 numbers): its two clients move to floripa-norte."""
    numbers = yaml.safe_load((specs / "numbers.yaml").read_text(encoding="utf-8"))
    del numbers["number_ranges"]["floripa-centro"]
    (specs / "numbers.yaml").write_text(yaml.safe_dump(numbers), encoding="utf-8")
    clients = (specs / "clients.yaml").read_text(encoding="utf-8")
    clients = clients.replace('number: "4832001001"', 'number: "4833500101"')
    clients = clients.replace('numero_telefone_nf: "4832001001"', 'numero_telefone_nf: "4833500101"')
    clients = clients.replace('number: "4832001002"', 'number: "4833500102"')
    (specs / "clients.yaml").write_text(clients, encoding="utf-8")


def test_pull_request_comments_the_plan_and_the_merge_applies_it(
        ci: Ci, repo: Repo, sim: Sim, joinville: Sim) -> None:
    head = repo.commit(sha(1))
    review = ci.review(7, head)
    assert review.ok, review.log
    comments = ci.comments()
    assert len(comments) == 1
    # the comment is the Markdown plan, as the job saved it, holding both tenants' changes
    assert comments[0] == review.file("plan.md")
    assert "stfc-floripa" in comments[0] and "stfc-joinville" in comments[0]
    assert "4832001001" in comments[0]
    assert sim.numbers() == {} and joinville.numbers() == {}  # a plan changes nothing

    merged = repo.commit(sha(2))  # main after the merge: the same specs
    apply = ci.merge(7, head, merged)
    assert apply.ok, apply.log
    assert sim.number("4832001001")["vinculo"], "the reviewed plan was applied"
    assert "4734220001" in joinville.numbers()
    # the platforms now match the specs on main: a following plan is empty
    repo.operator(merged)("plan", "--detailed-exitcode", check=0)


def suspend(*services: int) -> Any:
    """A spec edit: suspend these client services."""
    def edit(specs: Path) -> None:
        clients = specs / "clients.yaml"
        text = clients.read_text(encoding="utf-8")
        for service in services:
            before = f"id: {service}\n        status: active"
            assert before in text
            text = text.replace(before, f"id: {service}\n        status: suspended")
        clients.write_text(text, encoding="utf-8")
    return edit


def test_a_stale_plan_is_refused_on_merge_then_replanned_and_applied(
        ci: Ci, repo: Repo, sim: Sim) -> None:
    base = repo.commit(sha(1))
    repo.operator(base)("apply", "--auto-approve", check=0)
    head = repo.commit(sha(2), suspend(5001, 5004))
    assert ci.review(8, head).ok
    # between the review and the merge, a hotfix suspending 5001 is applied by hand: the
    # state moves, and the reviewed plan no longer describes what is left to do
    repo.operator(repo.commit(sha(3), suspend(5001)))("apply", "--auto-approve", check=0)
    before = sim.counters()["writes"]
    main = repo.commit(sha(4), suspend(5001, 5004))
    apply = ci.merge(8, head, main)
    assert not apply.ok
    assert "is stale: the state moved from serial" in apply.log
    assert "replan" in apply.log
    assert "Traceback" not in apply.log
    assert sim.counters()["writes"] == before, "a refused plan writes nothing"
    if isinstance(ci, GitHub):
        assert "reconcile apply failed" in apply.summary
    assert not sim.number("4833500110")["bloqueado"]

    # the way out the job names: plan main again, review, approve the apply
    shown, approved = ci.replan(main)
    assert 'stfc-floripa.link["4833500110"]' in shown
    assert 'stfc-floripa.link["4832001001"]' not in shown, "the hotfix is not planned again"
    assert approved.ok, approved.log
    assert sim.number("4833500110")["bloqueado"]
    repo.operator(main)("plan", "--detailed-exitcode", check=0)


def test_a_plan_over_a_safety_limit_is_commented_fails_and_can_be_allowed(
        ci: Ci, repo: Repo, sim: Sim) -> None:
    base = repo.commit(sha(1))
    repo.operator(base)("apply", "--auto-approve", check=0)
    head = repo.commit(sha(2), move_clients_off_floripa_centro)

    refused = ci.review(9, head)
    assert not refused.ok, "over a safety limit, the job fails"
    comment = ci.comments()[-1]  # ... and the comment is still posted, saying why
    assert "reconcile plan exited 3" in comment
    allowances = sorted(set(re.findall(r"--allow (\S+=\d+)", comment)))
    assert allowances, comment
    assert "reconcile-allow.txt" in refused.log, "the job says where allowances go"

    # the description is never read: an allowance there (which editing after the approval
    # would slip past the reviewers) changes nothing
    described = ci.review(9, head, "Retire floripa-centro.\r\n" + "".join(
        f"reconcile-allow: {a}\r\n" for a in allowances))
    assert not described.ok
    assert "reconcile plan exited 3" in ci.comments()[-1]
    assert "Allowances" not in ci.comments()[-1]

    # the author commits the exact counts in reconcile-allow.txt: part of the reviewed diff
    allow_file = {"reconcile-allow.txt": "# retiring floripa-centro; delete me once applied\r\n"
                  + "".join(f"{a}  # the count the plan showed\r\n" for a in allowances)}
    head = repo.commit(sha(4), move_clients_off_floripa_centro, allow_file)
    allowed = ci.review(9, head)
    assert allowed.ok, allowed.log
    comment = ci.comments()[-1]
    assert "exited" not in comment
    # a percentage limit shows in the Safety table; a range retired with linked numbers is a
    # confirmation of its own (range-unlink), listed with the allowances below
    assert all(f"over, allowed by `--allow {a}`" in comment for a in allowances
               if ".range-unlink=" not in a), comment
    used = re.search(r"\*\*Allowances\*\* from `reconcile-allow\.txt`.*", comment)
    assert used and all(f"`{a}`" in used[0] for a in allowances), comment
    assert "delete the file in a later change" in used[0]
    # the merged commit holds the same file; the apply reads it from there
    apply = ci.merge(9, head, repo.commit(sha(5), move_clients_off_floripa_centro, allow_file))
    assert apply.ok, apply.log
    assert sim.number("4833500101")["vinculo"], "the client moved to its new number"


def test_a_malformed_allowance_file_fails_the_plan_naming_its_line(
        ci: Ci, repo: Repo, sim: Sim) -> None:
    head = repo.commit(sha(1), files={
        "reconcile-allow.txt": "# ok\nstfc-floripa.delete=48\nstfc-floripa.unlink = 3\n"})
    review = ci.review(12, head)
    assert not review.ok
    assert "reconcile-allow.txt:3: not LIMIT=N" in review.log, review.log
    assert "stfc-floripa.unlink = 3" in ci.comments()[-1]
    assert not (review.workspace / "plan.json").exists(), "nothing is planned"
    assert sim.counters()["writes"] == {}


def test_the_scheduled_job_reports_drift_and_fails_only_when_there_is_some(
        ci: Ci, repo: Repo, sim: Sim) -> None:
    head = repo.commit(sha(1))
    assert ci.review(10, head).ok
    main = repo.commit(sha(2))
    assert ci.merge(10, head, main).ok

    quiet = ci.schedule(main)
    assert quiet.ok, quiet.log
    assert "4832001001" not in quiet.file("drift.md")

    # a change made behind the tool's back, through the platform's own API
    sim.api("POST", "/api/numeros/4832001001/bloquear").raise_for_status()
    drifted = ci.schedule(main)
    assert not drifted.ok, "drift fails the scheduled job"
    report = drifted.file("drift.md")
    assert "4832001001" in report
    assert "Traceback" not in drifted.log
    published = drifted.summary if isinstance(ci, GitHub) else drifted.log
    assert report.strip() and report.strip() in published


def test_invalid_specs_are_commented_with_their_location_and_fail_the_job(
        ci: Ci, repo: Repo, sim: Sim) -> None:
    def wrong_check_digit(specs: Path) -> None:
        clients = specs / "clients.yaml"
        text = clients.read_text(encoding="utf-8")
        clients.write_text(text.replace('"78778932807"', '"78778932808"'), encoding="utf-8")

    first = ci.review(11, repo.commit(sha(1)))
    assert first.ok, first.log
    broken = ci.review(11, repo.commit(sha(2), wrong_check_digit))
    assert not broken.ok
    comments = ci.comments()
    assert len(comments) == 2  # the same comment, edited
    assert "reconcile validate failed" in comments[-1]
    assert re.search(r"specs/clients\.yaml:\d+:\d+", comments[-1]), comments[-1]
    assert sim.counters()["writes"] == {}


def test_the_templates_declare_what_the_services_do_not_let_the_jobs_run_without() -> None:
    """What the emulation cannot run: triggers, permissions, serialised applies, secrets."""
    github = yaml.safe_load(GITHUB_TEMPLATE.read_text(encoding="utf-8"))
    on = github.get("on") or github[True]
    assert on["push"]["branches"] == ["main"] and on["schedule"][0]["cron"]
    # the description is never read, so its edits need no plan (and approvals do not cover them)
    assert "edited" not in on["pull_request"]["types"]
    for template in (GITHUB_TEMPLATE, GITLAB_TEMPLATE):
        text = template.read_text(encoding="utf-8")
        assert ".body" not in text and "DESCRIPTION" not in text, template
    jobs = github["jobs"]
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert jobs["apply"]["concurrency"]["cancel-in-progress"] is False
    assert "concurrency" not in jobs["drift"], "a drift run must never cancel a pending apply"
    referenced = set(re.findall(r"\$\{env:(\w+)\}", "".join(
        p.read_text(encoding="utf-8") for p in EXAMPLE.glob("*.yaml"))))
    assert referenced and all(github["env"][name] == f"${{{{ secrets.{name} }}}}"
                              for name in referenced | {"RECONCILER_STATE"})

    gitlab = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    assert gitlab["apply"]["resource_group"]
    assert "plan.json" in gitlab["plan"]["artifacts"]["paths"]
    assert gitlab["drift"]["artifacts"]["when"] == "always"
    assert gitlab["plan"]["interruptible"] is True and "interruptible" not in gitlab["apply"]
