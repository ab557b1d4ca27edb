"""HTTP to one API: a `requests.Session` per worker process, authentication, timeouts, retries,
and the API's answers turned into backend errors.

- The session is created on first use in each process (after gunicorn forks, never before) and
  keeps its connections open; TLS is always verified, against a private CA if one is configured.
- Every call has a timeout, cut to what is left of the request's deadline (gateway/deadline.py).
  That timeout bounds each socket operation, not the call, and a host name lookup not at all:
  an API that trickles its headers or its body a piece at a time, a proxy that trickles its
  answer to CONNECT, or a resolver that hangs would hold the thread for ever. So the lookup is
  waited for no longer than the time left (resolver.py), and the deadline's watchdog shuts the
  call's socket down when the deadline comes (cutoff.py). A call cut off before its request
  began to leave was not sent (a connect timeout, below); one cut off after is never sent again
  (there is no time left), a read cut off is 503, and a write (any call but a GET) cut off may
  have been done, so it is in doubt as below.
  A call that may safely be sent again (GET, PUT, DELETE) is retried with backoff on timeouts,
  dropped connections and 5xx answers, within a time budget longer than one call's timeout (so
  a call that timed out is retried) and never past the deadline. A POST is sent again only
  when the API provably did not process it: the connection was never made, or the API answered
  429. A `Retry-After` the API gives is honoured when it fits the budget, and passed on to
  Entra when it does not.
- A write that was sent and never answered may or may not have been done: it is reported as
  `Unavailable(in_doubt=True)`, for the caller to find out or to say the outcome is unknown.
- 412 (an `If-Match` that is no longer current) is `Stale`: the backend reads again and retries.
- Nothing here logs a header, a body or a query string, and every message from the API is
  stripped of the gateway's secrets before it goes into a log line or an answer to Entra.
"""

from __future__ import annotations

import email.utils
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError

from gateway import deadline
from gateway.backends.base import AlreadyExists, BackendError, InvalidData, NotFound, Throttled, Unavailable
from gateway.backends.rest.auth import ClientCredentials, NoAuth, make_auth
from gateway.backends.rest.cutoff import CutOff, WatchedAdapter, at_deadline
from gateway.backends.rest.settings import RestSettings
from gateway.observability import metrics

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.2  # seconds before the first retry; doubled each time
MAX_BACKOFF = 3.0
MESSAGE_LIMIT = 300  # characters of the API's own error message passed on to Entra
NO_BODY = object()


class Stale(BackendError):
    """The API refused a write because the record changed since it was read (412 to If-Match)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON; None for an empty answer
    headers: Mapping[str, str] = field(default_factory=dict)


class Sender(Protocol):
    """What the REST backend needs of a transport: the real one, or the preview's that sends nothing."""

    @property
    def base_url(self) -> str: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = NO_BODY,
        idempotent: bool,
        gone_is_done: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Reply: ...

    def close(self) -> None: ...


class _Session(requests.Session):
    """A session whose own CA file (the tenant's `ca_file`) is what TLS is checked against.
    requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace it (they win over a session's
    `verify`); set system-wide, they made every call to an API with a private CA fail."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str):
            settings["verify"] = self.verify
        return settings


class Transport:
    def __init__(self, settings: RestSettings):
        self.settings = settings
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep
        self.auth = make_auth(settings.auth, self._post_token, settings.timeout)
        self._session: requests.Session | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.sent = 0  # HTTP requests sent by this process (token requests excluded), for tests and metrics

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None or self._pid != os.getpid():  # forked: the parent's sockets are not ours
                self._session = self._new_session()
                self._pid = os.getpid()
            return self._session

    def _new_session(self) -> requests.Session:
        session = _Session()
        session.verify = self.settings.ca_file or True
        session.headers.update({"Accept": "application/json", "User-Agent": "scim-gateway"})
        adapter = WatchedAdapter(pool_connections=2, pool_maxsize=16, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def _post_token(self, url: str, *, auth: Any, **kwargs) -> requests.Response:
        """The token request: a call of its own, cut off at the request's deadline (CutOff)."""
        with at_deadline():
            return self.session.post(url, auth=auth or NoAuth(), allow_redirects=False, **kwargs)

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None and self._pid == os.getpid():
            session.close()

    # --- one call ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = NO_BODY,
        idempotent: bool,
        gone_is_done: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one call (retrying it where that is safe); BackendError for anything but 2xx.

        `gone_is_done`: a 404 to a repeated DELETE means the first one worked and its answer was lost.
        Every call is timed and counted here, with its retries (observability/metrics.py).
        """
        with metrics.measured("rest", method):
            return self._request(method, path, params, body, idempotent, gone_is_done, headers)

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        idempotent: bool,
        gone_is_done: bool,
        headers: Mapping[str, str] | None,
    ) -> Reply:
        budget = self.clock() + self.settings.retry_budget

        def in_time(wait: float) -> bool:
            left = deadline.remaining()
            return self.clock() + wait <= budget and (left is None or wait + deadline.MINIMUM < left)

        attempt = 0
        token_renewed = False
        # A write attempt that may have reached the API without its answer reaching us: if no
        # later attempt is answered, whether the write was done is unknown.
        maybe_done = False
        while True:
            attempt += 1
            try:
                response = self._send(method, path, params, body, headers)
            except requests.RequestException as error:
                maybe_done = maybe_done or (method != "GET" and _maybe_received(error))
                wait = _backoff(attempt)
                if _may_resend(error, idempotent) and in_time(wait):
                    log.warning("API %s %s failed (%s); retrying in %.1fs", method, path, type(error).__name__, wait)
                    self.sleep(wait)
                    continue
                raise self._unreachable(error, method, path, maybe_done) from None
            except deadline.OutOfTime as error:
                if maybe_done or (isinstance(error, CutOff) and method != "GET"):
                    raise _in_doubt(error, method, path) from None
                if isinstance(error, CutOff):
                    log.warning("API %s %s: still answering at the request's deadline; cut off", method, path)
                raise
            status = response.status_code
            if status == 401 and isinstance(self.auth, ClientCredentials) and not token_renewed:
                # A token revoked or expired early; a refused request was not processed.
                token_renewed = True
                self.auth.invalidate(response.request.headers.get("Authorization"))
                continue
            if status == 429 or status >= 500:
                hint = retry_after(response.headers.get("Retry-After"))
                wait = _backoff(attempt) if hint is None else float(hint)
                if (status == 429 or idempotent) and in_time(wait):
                    log.warning("API %s %s answered %s; retrying in %.1fs", method, path, status, wait)
                    self.sleep(wait)
                    continue
                refusal = self._refusal(response, method, path, hint)
                if maybe_done and isinstance(refusal, Unavailable):
                    raise _in_doubt(refusal, method, path)
                raise refusal
            if status == 404 and gone_is_done and attempt > 1:
                return Reply(204, None, response.headers)
            if status == 412 and headers and "If-Match" in headers:
                raise Stale(f"the record changed since it was read ({method} {path} answered 412)")
            if status >= 300:
                raise self._refusal(response, method, path, None)
            return Reply(status, self._json(response, method, path), response.headers)

    def probe(self, path: str, params: Mapping[str, str], timeout: float) -> None:
        """One GET, sent once (no retry) within `timeout` and the deadline, if any: BackendError
        unless the API answers 2xx."""
        try:
            with at_deadline():
                response = self.session.get(
                    self.settings.base_url + path,
                    params=params,
                    auth=self.auth,
                    timeout=(timeout, timeout),
                    allow_redirects=False,
                )
        except requests.RequestException as error:
            raise self._unreachable(error, "GET", path, False) from None
        if response.status_code == 404:  # a list call: the path, not a record, is missing
            message = self.message(response)
            raise Unavailable(f"the API has no {path} (404{': ' + message if message else ''})")
        if response.status_code >= 300:
            raise self._refusal(response, "GET", path, None)
        self._json(response, "GET", path)

    def _send(
        self, method: str, path: str, params: Mapping[str, str] | None, body: Any, headers: Mapping[str, str] | None
    ) -> requests.Response:
        timeout = deadline.bounded(self.settings.timeout, "the API")
        started = time.perf_counter()
        self.sent += 1
        with at_deadline():  # the timeout bounds each read; this, the whole answer (cutoff.py)
            response = self.session.request(
                method,
                self.settings.base_url + path,
                params=params,
                json=None if body is NO_BODY else body,
                headers=headers,
                auth=self.auth,
                timeout=(timeout, timeout),
                allow_redirects=False,  # a redirect would carry the API key to wherever it points
            )
        log.debug(
            "API %s %s -> %s (%.0f ms)", method, path, response.status_code, (time.perf_counter() - started) * 1000
        )
        return response

    # --- answers -------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """The text with every secret the gateway holds for this API replaced by ***."""
        for secret in self.auth.secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _json(self, response: requests.Response, method: str, path: str) -> Any:
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            snippet = self.redact(response.text[:120]).replace("\n", " ")
            log.error(
                "API %s %s answered %s with something that is not JSON: %r", method, path, response.status_code, snippet
            )
            raise Unavailable(f"the API's answer to {method} {path} is not JSON") from None

    def message(self, response: requests.Response) -> str:
        """The API's own error message, secrets stripped, short enough to show."""
        try:
            found = _message_in(response.json())
        except ValueError:
            found = None
        text = " ".join((found or response.text or response.reason or "").split())
        text = self.redact(text)
        return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"

    def _refusal(self, response: requests.Response, method: str, path: str, hint: int | None) -> BackendError:
        status = response.status_code
        message = self.message(response)
        detail = f": {message}" if message else ""
        if status in (400, 422):
            return InvalidData(f"the API refused the values{detail}")
        if status in (404, 410):
            return NotFound(f"the API has no such record{detail}")
        if status == 409:
            return AlreadyExists(f"the API already has such a record{detail}")
        if status == 429:
            log.warning("API %s %s: rate-limited, Retry-After %s", method, path, hint)
            return Throttled("the API is rate-limiting the gateway", hint or self.settings.retry_after)
        if status == 401:
            log.error("API %s %s: 401, the API refused the gateway's credentials%s", method, path, detail)
            return Unavailable("the API refused the gateway's credentials")
        if status == 407:  # only a proxy answers this (RFC 9110, 15.5.8): the API never had the call
            log.error(
                "API %s %s: the proxy wants a login (407%s); the gateway's proxy comes from the HTTPS_PROXY,"
                " HTTP_PROXY and NO_PROXY environment",
                method,
                path,
                detail,
            )
            return Unavailable("the API cannot be reached through the proxy")
        if status == 403:
            log.error("API %s %s: 403%s", method, path, detail)
            return BackendError("the API refused the gateway's account this operation; check its access rights")
        if status >= 500:
            log.warning("API %s %s answered %s%s", method, path, status, detail)
            return Unavailable(f"the API answered {status}", retry_after=hint)
        if 300 <= status < 400:
            where = urlsplit(response.headers.get("Location", "")).path or "elsewhere"
            log.error("API %s %s redirects to %s", method, path, where)
            return BackendError(f"the API redirected {method} {path} to {where}; point base_url at the final address")
        log.error("API %s %s answered %s%s", method, path, status, detail)
        return BackendError(f"the API answered {status} to {method} {path}{detail}")

    def _unreachable(self, error: requests.RequestException, method: str, path: str, in_doubt: bool) -> BackendError:
        host = urlsplit(self.settings.base_url).netloc
        if in_doubt:
            # A try left and its answer did not come back: the write may have been done, or not.
            return _in_doubt(error, method, path)
        if isinstance(error, requests.exceptions.SSLError):
            log.error("API %s: the TLS certificate of %s could not be verified (ca_file?)", method, host)
            return Unavailable(f"the API's TLS certificate could not be verified ({host})")
        if isinstance(error, requests.Timeout):
            log.warning("API %s %s: no answer within %ss", method, path, self.settings.timeout)
            return Unavailable("the API did not answer in time")
        if isinstance(error, requests.exceptions.ProxyError):
            why = _reason(error)
            why = (why.__cause__ or why) if why is not None else error  # the proxy's own words, if any
            log.error(
                "API %s %s: the proxy to %s failed: %s (the HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment)",
                method,
                path,
                host,
                why,
            )
            return Unavailable("the API cannot be reached through the proxy")
        if isinstance(error, LOST):
            log.warning("API %s %s: cannot reach %s (%s)", method, path, host, type(error).__name__)
            return Unavailable("the API cannot be reached")
        log.error("API %s %s could not be sent: %s", method, path, type(error).__name__)
        return BackendError(f"the call {method} {path} could not be sent ({type(error).__name__})")


# The connection went away: before the request left (refused), or after, with the answer not
# or only partly back (an API killed mid-answer cuts its chunked body: ChunkedEncodingError).
LOST = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def retry_after(value: str | None) -> int | None:
    """Seconds from a Retry-After header: a number, or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, math.ceil(moment.timestamp() - time.time()))


def _backoff(attempt: int) -> float:
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def _maybe_received(error: requests.RequestException) -> bool:
    """The request may have reached the API: it was sent, and no answer came (not a refusal to connect)."""
    if isinstance(error, requests.exceptions.SSLError):
        return False  # the handshake failed: nothing was sent
    return isinstance(error, (requests.Timeout, *LOST)) and not _may_resend(error, False)


def _in_doubt(error: Exception, method: str, path: str) -> Unavailable:
    log.warning("API %s %s: sent, no answer (%s); the outcome is unknown", method, path, type(error).__name__)
    return Unavailable(f"the API did not answer {method} {path} in time", in_doubt=True)


def _may_resend(error: requests.RequestException, idempotent: bool) -> bool:
    """Idempotent calls may always be sent again; others only if the request never left."""
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate does not fix itself in a second
    if not isinstance(error, (*LOST, requests.Timeout)):
        return False
    if idempotent:
        return True
    if isinstance(error, requests.ConnectTimeout):
        return True
    # Never connected (refused, a NewConnectionError, is one), so nothing was sent.
    return isinstance(_reason(error), ConnectTimeoutError)


def _reason(error: requests.RequestException) -> BaseException | None:
    """urllib3's error under requests' (under a ProxyError's, the error reaching the proxy)."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return getattr(reason, "original_error", reason)


def _message_in(body: Any) -> str | None:
    """The message in an error body: {"message"}, {"error": {"message"}}, {"errors": [...]}, ..."""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        parts = [_message_in(item) for item in body]
        return "; ".join(p for p in parts if p) or None
    if isinstance(body, dict):
        for key in ("message", "detail", "error_description", "title", "error", "errors", "msg"):
            if key in body:
                found = _message_in(body[key])
                if found:
                    return found
    return None
