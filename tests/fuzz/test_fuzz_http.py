"""The HTTP surface against a real slapd, fuzzed: no request body or filter gets a 5xx."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import filters, json_values, patch_bodies

# One gateway and one user serve all examples of a test; what the examples change is left changed.
shared = settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def client(make_client):
    """The gateway on the shipped map, without a rate limit: the fuzzers send hundreds a second."""
    return make_client(tenant_yaml="    limits: {rate: null}\n")


def _answered(response) -> None:
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.get_json()["status"] == str(response.status_code)


@shared
@given(text=filters)
def test_any_filter_is_answered_without_a_server_error(client, text):
    _answered(client.flask_client.get("/scim/v2/Users", query_string={"filter": text}, headers=_auth(client)))


@shared
@given(body=patch_bodies)
def test_any_patch_body_is_answered_without_a_server_error(client, body):
    user_id = _alice(client)
    _answered(client.request("PATCH", f"/Users/{user_id}", body))


@shared
@given(body=st.one_of(json_values, st.dictionaries(st.sampled_from(["userName", "active", "emails"]), json_values)))
def test_any_create_body_is_answered_without_a_server_error(client, body):
    _answered(client.post("/Users", body))


@shared
@given(
    raw=st.one_of(st.binary(max_size=200), st.integers(1, 100_000).map(lambda n: b"[" * n), st.text().map(str.encode))
)
def test_any_raw_body_is_answered_without_a_server_error(client, raw):
    _answered(client.request("POST", "/Users", raw=raw))


def _auth(client) -> dict:
    return {"Authorization": f"Bearer {client.token}"}


def _alice(client) -> str:
    found = client.get("/Users?filter=userName%20eq%20%22fuzz-alice%22").get_json()
    if found["totalResults"]:
        return found["Resources"][0]["id"]
    return client.create_user("fuzz-alice", emails=[{"type": "work", "value": "a@example.com"}])["id"]
