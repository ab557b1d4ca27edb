"""SCIM errors (RFC 7644 section 3.12): every refusal the gateway answers, made here.

Each layer raises; the web layer only turns a `ScimError` into JSON (`web/responses.py`), and
`mapping preview` prints the same error. Backend errors are translated in one function,
`scim_error_for`, which the server and the preview both call, so a preview refuses a request
with exactly the status and scimType the server would.

RFC 7644 section 3.12 defines a scimType for 400 (invalidFilter, tooMany, invalidSyntax,
invalidPath, noTarget, invalidValue, invalidVers, mutability), 409 (uniqueness) and 403
(sensitive, a secret in a URI; the gateway masks those in its log instead); every other status
carries none.
"""

from __future__ import annotations

from gateway.backends.base import (
    AlreadyExists,
    BackendError,
    InvalidData,
    NotFound,
    Throttled,
    TooManyResults,
    Unavailable,
    UnknownReference,
    UnsupportedQuery,
)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
DEFAULT_RETRY_AFTER = 30  # seconds a client is asked to wait when no setting or downstream says


class ScimError(Exception):
    """An error the client should see: HTTP status, optional scimType and an actionable detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def summary(self) -> str:
        """One line for a person: `409 uniqueness: the userName ... is taken`."""
        return f"{self.status} {self.scim_type}: {self.detail}" if self.scim_type else f"{self.status}: {self.detail}"

    def to_json(self) -> dict:
        body: dict = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


# --- 400 and 409: the request itself is wrong -------------------------------------------------


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def too_many(detail: str) -> ScimError:
    return ScimError(400, detail, "tooMany")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def invalid_cursor(detail: str) -> ScimError:
    """RFC 9865: a cursor this gateway did not give out, or one for another listing."""
    return ScimError(400, detail, "invalidCursor")


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def no_target(detail: str) -> ScimError:
    return ScimError(400, detail, "noTarget")


def mutability(detail: str) -> ScimError:
    return ScimError(400, detail, "mutability")


def uniqueness(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")


# --- statuses without a scimType --------------------------------------------------------------


def unauthorized(detail: str, challenges: list[str]) -> ScimError:
    """401 with the WWW-Authenticate challenges of the ways in the tenant accepts."""
    return ScimError(401, detail, headers={"WWW-Authenticate": ", ".join(challenges)})


def forbidden(detail: str) -> ScimError:
    return ScimError(403, detail)


def not_found(detail: str) -> ScimError:
    return ScimError(404, detail)


def method_not_allowed(detail: str, allowed: list[str]) -> ScimError:
    """405 with the `Allow` header RFC 9110 section 15.5.6 asks for."""
    return ScimError(405, detail, headers={"Allow": ", ".join(allowed)})


def too_large(detail: str) -> ScimError:
    return ScimError(413, detail)


def too_many_requests(detail: str, retry_after: int) -> ScimError:
    return ScimError(429, detail, headers={"Retry-After": str(retry_after)})


def internal(detail: str) -> ScimError:
    return ScimError(500, detail)


def unavailable(detail: str, retry_after: int) -> ScimError:
    return ScimError(503, detail, headers={"Retry-After": str(retry_after)})


# --- the layer below --------------------------------------------------------------------------


def scim_error_for(error: BackendError, retry_after: int = DEFAULT_RETRY_AFTER) -> ScimError:
    """The SCIM error for a backend error; backend messages are written to be shown to clients.

    `retry_after` is the tenant's default wait, for a backend that is down without saying for
    how long; a backend error that carries its own `retry_after` (an HTTP API's hint) wins.
    """
    if isinstance(error, NotFound):
        return not_found(str(error))
    if isinstance(error, AlreadyExists):
        return uniqueness(str(error))
    if isinstance(error, (InvalidData, UnknownReference)):
        return invalid_value(str(error))
    if isinstance(error, TooManyResults):
        return too_many(str(error))
    if isinstance(error, UnsupportedQuery):
        return invalid_filter(str(error))
    if isinstance(error, Throttled):
        return too_many_requests(f"{error}; retry later", error.retry_after)
    if isinstance(error, Unavailable):
        hint = error.retry_after
        return unavailable(f"{error}; retry later", retry_after if hint is None else hint)
    return internal(str(error))
