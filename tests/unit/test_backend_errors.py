"""Backend errors become SCIM errors in one place (web/responses.py)."""

from flask import Flask

from gateway.backends.base import Throttled, Unavailable, UnsupportedQuery
from gateway.web.responses import scim_error_for


def test_throttled_is_429_with_the_downstream_retry_after():
    with Flask("t").test_request_context():
        error = scim_error_for(Throttled("the HR API is rate-limiting the gateway", 7))
    assert (error.status, error.headers) == (429, {"Retry-After": "7"})


def test_unavailable_keeps_the_downstream_hint_over_the_configured_value():
    with Flask("t").test_request_context():
        hinted = scim_error_for(Unavailable("the HR API is down", retry_after=12))
        configured = scim_error_for(Unavailable("the directory is down"))
    assert hinted.headers == {"Retry-After": "12"}
    assert (configured.status, configured.headers) == (503, {"Retry-After": "30"})


def test_unsupported_query_is_400_invalid_filter_with_the_backend_message():
    with Flask("t").test_request_context():
        error = scim_error_for(UnsupportedQuery("the HR API can only be searched by login"))
    assert (error.status, error.scim_type, error.detail) == (
        400,
        "invalidFilter",
        "the HR API can only be searched by login",
    )
