import json, threading, time
import pytest
from tests.e2e.content_specs import ContentSpecs

def show(r):
    print("$", r.args[3:], "->", r.returncode); print(r.stdout[-3000:]); print(r.stderr[-3000:])

def test_x(content_cli, qualifica, campsoft):
    c = content_cli
    specs = ContentSpecs(c.cwd / "specs", qualifica.url, campsoft.url, bulk=12)
    specs.packages["livros-premium"]["products"] = ["9999"]
    specs.write()
    show(c("validate"))
    specs.packages["livros-premium"]["products"] = ["7654321"]
    specs.write()
    c("apply", "--auto-approve", check=0)
    for sid in range(5001, 5007):
        specs.service(sid)["status"] = "cancelled"
    specs.write()
    show(c("plan"))
    show(c("apply", "--auto-approve", "--allow", "campsoft.delete=5"))
    show(c("apply", "--auto-approve", "--allow", "campsoft.delete=6"))
    print(campsoft.counters())
    qualifica.configure(latency=0.3, token_ttl=40)
    campsoft.configure(latency=0.3, token_ttl=40)
    specs.clients = specs.clients[:4]
    for s in (1001, 1002, 1003, 2001):
        specs.service(s)["status"] = "suspended"
    specs.write()
    stop = threading.Event()
    def expirer():
        while not stop.wait(1.0):
            print("expired", qualifica.expire_tokens(), campsoft.expire_tokens(), time.monotonic())
    t = threading.Thread(target=expirer); t.start()
    t0=time.monotonic()
    try:
        show(c("apply", "--auto-approve", "--allow", "campsoft.delete=6", "--allow", "campsoft.empty=99"))
    finally:
        stop.set(); t.join()
    print("took", time.monotonic()-t0)
    print(qualifica.counters(), campsoft.counters())
    assert 0
