"""What drift means for SaperX STFC beyond the generic rules: the removal queue.

An unlinked number waits in the platform's removal queue (status ``removing``) before it is free
again. A managed number found there is *converging* (the vendor is still working), not drift,
unless its link is managed too: then the missing link says what happened, once. And a missing
link says whether its number is still there, and whether it is in the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reconciler.model import Drift, Resource

REMOVING = "removing"  # a number's status while the platform's removal queue holds it


def refine_drift(was: Resource, now: Resource | None, found: Drift | None,
           actual: Mapping[str, Resource], managed: Mapping[str, Resource]) -> Drift | None:
    addr = was.address
    if was.kind == "number" and now is not None and now.attrs.get("status") == REMOVING:
        if addr.replace(".number[", ".link[", 1) in managed:
            return None  # unlinked behind the tool's back: its missing link says so, once
        return Drift(addr, was.integration, "converging", None, {"status": REMOVING},
                     detail="in the platform's removal queue; free again once the queue runs")
    if was.kind == "link" and found is not None and found.kind == "missing" and now is None:
        number = actual.get(addr.replace(".link[", ".number[", 1))
        if number is not None and number.attrs.get("status") == REMOVING:
            return replace(found, detail="unlinked on the platform outside the tool; the number "
                                         "is in the removal queue and can be linked again once "
                                         "the queue frees it")
        if number is not None:
            return replace(found, detail="unlinked on the platform outside the tool")
    return found
