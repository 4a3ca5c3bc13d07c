import json
import pytest
from tests.e2e.content_specs import ContentSpecs

def show(r):
    print("$", r.args[3:], "->", r.returncode); print(r.stdout); print(r.stderr)

def test_x(content_cli, qualifica, campsoft):
    c = content_cli
    specs = ContentSpecs(c.cwd / "specs", qualifica.url, campsoft.url, campsoft_suspends=False)
    specs.write()
    c("apply", "--auto-approve", check=0)
    specs.service(1003)["plan"] = "combo-livros"; specs.write()
    show(c("plan", "--detailed-exitcode"))
    show(c("plan", "--json"))
    show(c("apply", "--auto-approve"))
    show(c("plan", "--detailed-exitcode"))
    show(c("show"))
    assert 0
