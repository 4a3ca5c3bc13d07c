"""The project's error tree.

    ReconcilerError                     every error the CLI turns into a message and an exit code
    ├── SpecError                       one or more problems in the spec files, each with a location
    ├── SecretError                     a secret reference that cannot be resolved
    ├── PlanError                       the specs cannot be planned against what the platform holds
    ├── StateError                      the state store cannot be read or written
    │   └── StalePlanError              a saved plan no longer matches state or specs
    ├── PlanFileError                   a plan file that is not one `reconcile plan --out` wrote
    └── ProviderError                   a platform answered with an error, or could not be reached
        ├── AuthError                   401/403: wrong or revoked credentials
        ├── NotFoundError               404
        ├── ConflictError               409: the platform refuses the change in its current state
        ├── RejectedError               400/422: the platform refuses the payload
        └── TemporaryError              429, 5xx, timeouts, dropped connections: worth retrying

Messages name the object, the number and the way out. They never contain a secret: the CLI
passes every message through :func:`reconciler.secrets.redact` before printing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.bounds import clip

MAX_MESSAGE = 1_000


class ReconcilerError(Exception):
    """Root of every error the tool reports to a user."""

    code = "reconciler-error"
    exit_code = 1


@dataclass(frozen=True)
class SpecIssue:
    """One problem in one spec file, at one place."""

    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __post_init__(self) -> None:
        # A message may quote what the user wrote; a 10 MB value must not make a 10 MB message.
        object.__setattr__(self, "message", clip(self.message, MAX_MESSAGE))
        object.__setattr__(self, "hint", clip(self.hint, MAX_MESSAGE))

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class SpecError(ReconcilerError, ValueError):
    """The spec set has problems; all of them are listed, not just the first."""

    code = "spec-invalid"

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column, i.message))
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the specs:"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in self.issues)]))


class SecretError(ReconcilerError):
    code = "secret-unresolved"


class PlanError(ReconcilerError):
    code = "plan-failed"


class StateError(ReconcilerError):
    code = "state-error"


class StalePlanError(StateError):
    code = "plan-stale"


class PlanFileError(ReconcilerError):
    """A plan file that cannot be read, is not of the plan-file schema, or is not the file
    `reconcile plan --out` wrote (edited since, or made against another state)."""

    code = "plan-file-invalid"


class ProviderError(ReconcilerError):
    """A platform error, with enough context to act on and never a credential."""

    code = "provider-error"

    def __init__(
        self,
        message: str,
        *,
        integration: str = "",
        status: int | None = None,
        detail: str = "",
    ) -> None:
        self.integration = integration
        self.status = status
        self.detail = detail[:256]
        prefix = f"[{integration}] " if integration else ""
        suffix = f" (HTTP {status})" if status else ""
        more = f": {self.detail}" if self.detail else ""
        super().__init__(f"{prefix}{message}{suffix}{more}")


class AuthError(ProviderError):
    code = "provider-auth"


class NotFoundError(ProviderError):
    code = "provider-not-found"


class ConflictError(ProviderError):
    code = "provider-conflict"


class RejectedError(ProviderError):
    code = "provider-rejected"


class TemporaryError(ProviderError):
    """Worth retrying after ``retry_after`` seconds (from Retry-After when the platform sent one)."""

    code = "provider-temporary"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class LockError(StateError):
    """Another run holds the state lock."""

    code = "lock-held"


class UnsafePlanError(ReconcilerError):
    """The plan goes over a safety limit the operator has not explicitly allowed."""

    code = "plan-unsafe"
    exit_code = 3
