"""Recording stand-ins for the CI services' own tools that cannot be reached from here: `gh`
(GitHub's CLI) and `curl` to the GitLab API. The CI template tests put shims named `gh` and
`curl` first on the jobs' PATH; each runs ``python -m tests.e2e.ci_fakes TOOL ARGS...``.

They answer from a *world* file (JSON, path in ``CI_FAKE_WORLD``) that the test runner keeps as
the CI service would (pull requests, runs, pipelines, jobs, artifact directories), and append
every write they receive (a PR comment, an MR note) to ``CI_FAKE_RECORDS`` (JSON lines). Like the
real tools they fail without credentials, and `curl` refuses an URL with brackets unless
``--globoff`` is given (curl's URL globbing), so a template that forgets either fails here too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn

GITLAB_API = "https://gitlab.example.com/api/v4"  # CI_API_V4_URL as the runner sets it


def _world() -> dict[str, Any]:
    return json.loads(Path(os.environ["CI_FAKE_WORLD"]).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _record(entry: dict[str, Any]) -> None:
    with open(os.environ["CI_FAKE_RECORDS"], "a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")


def _fail(message: str, code: int = 1) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(code)


def _flag(args: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` in ``args``, or None."""
    return args[args.index(name) + 1] if name in args else None


# -- gh ----------------------------------------------------------------------------------


def gh(args: list[str]) -> None:
    """`gh pr comment`, `gh api .../commits/SHA/pulls`, `gh run list`, `gh run download`: the
    calls the GitHub Actions template makes, answered as GitHub would."""
    if not os.environ.get("GH_TOKEN"):
        _fail("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN "
              "environment variable.", 4)
    world = _world()
    if args[:2] == ["pr", "comment"]:
        body_file = _flag(args, "--body-file")
        if body_file is None:
            _fail("gh pr comment: a body is needed without a terminal")
        body = Path(str(body_file)).read_text(encoding="utf-8")
        _record({"tool": "gh", "action": "pr comment", "pr": args[2], "args": args[3:],
                 "body": body})
        print(f"https://github.com/{os.environ.get('GH_REPO', '')}/pull/{args[2]}#issuecomment-1")
    elif args[0] == "api":
        found = re.fullmatch(r"repos/[^/]+/[^/]+/commits/([0-9a-f]+)/pulls", args[1])
        if not found:
            _fail(f"gh api: no stand-in for {args[1]}")
        print(json.dumps(world["pulls"].get(found[1], [])))
    elif args[:2] == ["run", "list"]:
        runs = [r for r in reversed(world["runs"])
                if r["workflow"] == _flag(args, "--workflow")
                and r["headSha"] == _flag(args, "--commit")
                and r["event"] == _flag(args, "--event")
                and r["conclusion"] == _flag(args, "--status")]
        fields = str(_flag(args, "--json")).split(",")
        limit = int(_flag(args, "--limit") or 20)
        print(json.dumps([{f: r[f] for f in fields} for r in runs[:limit]]))
    elif args[:2] == ["run", "download"]:
        source = Path(world["artifacts"]) / args[2] / str(_flag(args, "--name"))
        if not source.is_dir():
            _fail("no artifact matches any of the names or patterns provided", 1)
        shutil.copytree(source, Path(_flag(args, "--dir") or "."), dirs_exist_ok=True)
    else:
        _fail(f"gh: no stand-in for {' '.join(args)}")


# -- curl to the GitLab API ----------------------------------------------------------------


def curl(args: list[str]) -> None:
    """The GitLab API calls the GitLab CI template makes with curl, answered as GitLab would:
    MR notes, the MRs of a commit, an MR's pipelines, a pipeline's jobs, a job's artifact."""
    url = next(a for a in args if a.startswith(("http://", "https://")))
    if "[" in url and "--globoff" not in args and "-g" not in args:
        _fail("curl: (3) bad range in URL position 1", 3)
    headers = [args[i + 1] for i, a in enumerate(args) if a in ("--header", "-H")]
    world = _world()
    if f"PRIVATE-TOKEN: {world['gitlab_token']}" not in headers:
        _fail("curl: (22) The requested URL returned error: 401", 22)
    path, _, query = url.removeprefix(GITLAB_API).partition("?")
    method = _flag(args, "--request") or ("POST" if "--data-urlencode" in args else "GET")
    answer: Any = None
    if m := re.fullmatch(r"/projects/\d+/merge_requests/(\d+)/notes(?:/(\d+))?", path):
        answer = _notes(args, method, mr=m[1], note=m[2])
    elif m := re.fullmatch(r"/projects/\d+/repository/commits/([0-9a-f]+)/merge_requests", path):
        answer = world["merge_requests"].get(m[1], [])
    elif m := re.fullmatch(r"/projects/\d+/merge_requests/(\d+)/pipelines", path):
        answer = [{"id": p["id"], "sha": p["sha"], "status": p["status"]}
                  for p in reversed(world["pipelines"]) if p["mr"] == m[1]]
    elif m := re.fullmatch(r"/projects/\d+/pipelines/(\d+)/jobs", path):
        scope = re.findall(r"scope\[\]=(\w+)", query)
        answer = [{"id": j["id"], "name": j["name"], "status": j["status"]}
                  for j in world["jobs"] if str(j["pipeline"]) == m[1]
                  and (not scope or j["status"] in scope)]
    elif m := re.fullmatch(r"/projects/\d+/jobs/(\d+)/artifacts/(.+)", path):
        source = Path(world["artifacts"]) / m[1] / m[2]
        if not source.is_file():
            _fail("curl: (22) The requested URL returned error: 404", 22)
        output = _flag(args, "--output")
        if output is None:
            sys.stdout.write(source.read_text(encoding="utf-8"))
        else:
            shutil.copyfile(source, output)
        return
    else:
        _fail("curl: (22) The requested URL returned error: 404", 22)
    print(json.dumps(answer))


def _notes(args: list[str], method: str, mr: str, note: str | None) -> Any:
    """An MR's notes: list them (newest first), create one (POST) or edit one (PUT); the
    notes live in the records, so what a job wrote, the next job lists."""
    written = [json.loads(line) for line in
               Path(os.environ["CI_FAKE_RECORDS"]).read_text(encoding="utf-8").splitlines()]
    current = {e["id"]: e["body"] for e in written
               if e["action"] in ("mr note", "mr note edit") and e["mr"] == mr}
    if method == "GET" and note is None:
        return [{"id": i, "body": current[i]} for i in sorted(current, reverse=True)]
    if method not in ("POST", "PUT") or (method == "PUT") != (note is not None):
        _fail("curl: (22) The requested URL returned error: 405", 22)
    if note is not None and int(note) not in current:
        _fail("curl: (22) The requested URL returned error: 404", 22)
    name, _, source = str(_flag(args, "--data-urlencode")).partition("@")
    body = Path(source).read_text(encoding="utf-8")
    ident = int(note) if note is not None else len(written) + 1
    _record({"tool": "curl", "action": "mr note" if note is None else "mr note edit", "mr": mr,
             "id": ident, "field": name, "body": body})
    return {"id": ident, "body": body}


if __name__ == "__main__":
    {"gh": gh, "curl": curl}[sys.argv[1]](sys.argv[2:])
