"""How the gateway proves who it is to the API: an API key header, HTTP Basic, or an OAuth 2.0
access token from the client-credentials grant, cached and fetched again before it expires.

Each is a `requests` auth hook, so the credential is added to the request at the last moment
and never passes through code that logs.

A token is fetched within the request's deadline (gateway/deadline.py) like any call: its
timeout is cut to the time left and the transport cuts the fetch off when the deadline comes.
The threads that wait meanwhile for the one fetching wait no longer than their own requests
have left: a request that runs out waiting made no call, so nothing it was to write is in doubt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from gateway import deadline
from gateway.backends.base import Unavailable
from gateway.backends.rest.settings import ApiAuthSettings

log = logging.getLogger(__name__)

DEFAULT_LIFETIME = 3600  # what a token is assumed to live when the token endpoint does not say


class Credential(AuthBase):
    """A requests auth hook that can name the secrets it sends, so a log line can hide them."""

    def secrets(self) -> list[str]:
        raise NotImplementedError


class NoAuth(Credential):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request

    def secrets(self) -> list[str]:
        return []


class ApiKey(Credential):
    def __init__(self, header: str, key: str):
        self.header = header
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self.key
        return request

    def secrets(self) -> list[str]:
        return [self.key]


class Basic(HTTPBasicAuth, Credential):
    def secrets(self) -> list[str]:
        password = self.password
        return [password if isinstance(password, str) else password.decode()]


class ClientCredentials(Credential):
    """OAuth 2.0 client credentials (RFC 6749 section 4.4), one token shared by the process's threads.

    The token is fetched again when less than a fifth of its life (at most a minute) is left,
    so a call never leaves with a token about to expire; `invalidate` drops one the API refused.
    """

    def __init__(self, settings: ApiAuthSettings, post: Callable[..., requests.Response], timeout: float):
        self.settings = settings
        self.post = post
        self.timeout = timeout
        self.clock: Callable[[], float] = time.monotonic
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        self.fetched = 0  # tokens fetched by this process, for tests and metrics

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        with self._locked():
            if self._token is None or self.clock() >= self._refresh_at:
                self._token, lifetime = self._fetch()
                self._refresh_at = self.clock() + lifetime - min(60.0, lifetime / 5)
            return self._token

    def invalidate(self, authorization: str | None) -> None:
        """Forget the token a refused request carried (unless another thread already replaced it)."""
        with self._locked():
            if self._token is not None and authorization == f"Bearer {self._token}":
                self._token = None

    def secrets(self) -> list[str]:
        return [s for s in (self.settings.secret, self._token) if s]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The token's lock, waited for no longer than the request has left: the thread holding
        it may be fetching a token for as long as its own deadline (or none) allows."""
        left = deadline.remaining()
        if not self._lock.acquire(timeout=-1 if left is None else left):
            log.warning("the request ran out of time waiting for another thread's API token fetch")
            raise deadline.OutOfTime("the request ran out of time waiting for the API's access token")
        try:
            yield
        finally:
            self._lock.release()

    def _fetch(self) -> tuple[str, float]:
        settings = self.settings
        form = {"grant_type": "client_credentials"}
        if settings.scope:
            form["scope"] = settings.scope
        auth = None
        if settings.client_auth == "basic":
            auth = HTTPBasicAuth(settings.client_id, settings.secret)
        else:
            form.update(client_id=settings.client_id, client_secret=settings.secret)
        try:
            timeout = deadline.bounded(self.timeout, "the API's token endpoint")
            response = self.post(settings.token_url, data=form, auth=auth, timeout=timeout)
        except deadline.OutOfTime:
            # Not the transport's CutOff (a call that may have been done): the API was not called.
            log.warning("the API's token endpoint %s had not answered by the request's deadline", settings.token_url)
            raise deadline.OutOfTime("the request ran out of time waiting for the API's token endpoint") from None
        except requests.RequestException as error:
            log.error("cannot reach the API's token endpoint %s: %s", settings.token_url, type(error).__name__)
            raise Unavailable("the API's token endpoint cannot be reached") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            code = answer.get("error") if isinstance(answer, dict) else None
            log.error(
                "the API's token endpoint %s refused client %s: HTTP %s %s",
                settings.token_url,
                settings.client_id,
                response.status_code,
                code if isinstance(code, str) else "",
            )
            raise Unavailable("the API's token endpoint refused the gateway's client credentials")
        try:
            lifetime = float(answer.get("expires_in", DEFAULT_LIFETIME))  # some servers send "3600"
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        self.fetched += 1
        return token, lifetime if lifetime > 0 else DEFAULT_LIFETIME


def make_auth(settings: ApiAuthSettings, post: Callable[..., requests.Response], timeout: float) -> Credential:
    if settings.type == "api_key":
        return ApiKey(settings.header, settings.secret)
    if settings.type == "basic":
        return Basic(settings.username, settings.secret)
    if settings.type == "oauth2":
        return ClientCredentials(settings, post, timeout)
    return NoAuth()
