"""Backend errors become SCIM errors in one function (scim/errors.py), without Flask."""

import pytest

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
from gateway.scim.errors import DEFAULT_RETRY_AFTER, scim_error_for


@pytest.mark.parametrize(
    ("error", "status", "scim_type"),
    [
        (NotFound("no user with id '7'"), 404, None),
        (AlreadyExists("the directory already has that entry"), 409, "uniqueness"),
        (InvalidData("the directory refused the values: telephoneNumber"), 400, "invalidValue"),
        (UnknownReference("users", ["7"]), 400, "invalidValue"),
        (UnsupportedQuery("the HR API can only be searched by login"), 400, "invalidFilter"),
        (TooManyResults("this filter matches more than 1000 records in the API; narrow it"), 400, "tooMany"),
        (Throttled("the HR API is rate-limiting the gateway", 7), 429, None),
        (Unavailable("the directory cannot be reached"), 503, None),
        (BackendError("the directory refused the operation (other)"), 500, None),
    ],
)
def test_each_backend_error_has_its_status_and_the_scim_type_rfc_7644_defines(error, status, scim_type):
    translated = scim_error_for(error, retry_after=17)
    assert (translated.status, translated.scim_type) == (status, scim_type)
    assert str(error) in translated.detail
    assert translated.to_json().get("scimType") == scim_type


def test_throttled_is_429_with_the_downstream_retry_after():
    error = scim_error_for(Throttled("the HR API is rate-limiting the gateway", 7), retry_after=17)
    assert (error.status, error.headers) == (429, {"Retry-After": "7"})


def test_unavailable_keeps_the_downstream_hint_over_the_tenant_default():
    hinted = scim_error_for(Unavailable("the HR API is down", retry_after=12), retry_after=17)
    configured = scim_error_for(Unavailable("the directory is down"), retry_after=17)
    assert hinted.headers == {"Retry-After": "12"}
    assert (configured.status, configured.headers) == (503, {"Retry-After": "17"})


def test_unavailable_without_any_setting_asks_for_the_default_wait():
    assert scim_error_for(Unavailable("down")).headers == {"Retry-After": str(DEFAULT_RETRY_AFTER)}


def test_a_zero_retry_after_from_the_downstream_is_kept():
    assert scim_error_for(Unavailable("down", retry_after=0), retry_after=17).headers == {"Retry-After": "0"}


def test_unsupported_query_is_400_invalid_filter_with_the_backend_message():
    error = scim_error_for(UnsupportedQuery("the HR API can only be searched by login"))
    assert (error.status, error.scim_type, error.detail) == (
        400,
        "invalidFilter",
        "the HR API can only be searched by login",
    )
