"""One contract for every backend, run against each: LDAP on the real slapd, REST on the real
reference HR API process. Records, queries and refs come from each backend's shipped map, so
the tests speak SCIM and the backends only ever see what the mapping hands them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.backends.base import AlreadyExists, Backend, NotFound, UnknownReference, Update
from gateway.backends.ldap.backend import LdapBackend
from gateway.backends.ldap.connection import ConnectionPool
from gateway.backends.ldap.settings import LdapSettings
from gateway.backends.rest.backend import RestBackend
from gateway.backends.rest.settings import ApiAuthSettings, RestSettings
from gateway.backends.rest.transport import Transport
from gateway.mapping import codec
from gateway.mapping.filters import to_query
from gateway.mapping.loader import load_mapping
from gateway.mapping.model import ResourceMap
from gateway.scim.filter import parse_filter
from gateway.scim.resource import normalize
from gateway.service import store_spec, taken
from gateway.store import EVERYTHING, Entry, Query, Record, Ref, references
from tests.conftest import HR_MAP, OPENLDAP_MAP
from tests.sandbox.slapd import SERVICE_DN

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
UNKNOWN_IDS = {"ldap": "5d48a0a8-e3ba-4f51-b9ba-0cbe3c5e6c39", "rest": "999999"}


@dataclass
class Store:
    """A backend and the map that speaks to it: SCIM in, the backend's records out."""

    name: str
    backend: Backend
    users: ResourceMap

    @property
    def attributes(self) -> list[str]:
        return codec.directory_attributes(self.users, None)

    def record(self, resource: dict) -> Record:
        record = codec.to_record(self.users, normalize(resource, self.users.resource_type))
        refs = references(record.values())
        known = self.backend.resolve(refs) if refs else {}
        return {name: [known.get(v, v) for v in values] for name, values in record.items()}

    def query(self, text: str) -> Query:
        return to_query(self.users, parse_filter(text))

    def create(self, userName: str, **attributes) -> Entry:
        """What the service does for a POST: the uniqueness search, then the create."""
        if taken(self.backend, "users", [self.query(f'userName eq "{userName}"')], None):
            raise AlreadyExists(userName)
        resource = {"userName": userName, "active": True, **attributes}
        return self.backend.create("users", self.record(resource), self.attributes)

    def scim(self, entry: Entry) -> dict:
        """The resource, with references read back completed the way the service does it."""
        pending = [v for values in entry.attributes.values() for v in values if isinstance(v, Ref) and not v.id]
        known = {r.locator: r for r in self.backend.resolve(pending).values()} if pending else {}
        attributes = {
            name: [known.get(v.locator, v) if isinstance(v, Ref) and not v.id else v for v in values]
            for name, values in entry.attributes.items()
        }
        return codec.to_resource(self.users, Entry(entry.id, attributes, entry.locator, entry.created, entry.modified))

    def update(self, entry: Entry, **changes) -> Entry:
        """What the service does for a PATCH: the whole new resource, and the difference."""
        old = self.scim(entry)
        new = {**old, **changes}
        new = {k: v for k, v in new.items() if v is not None}
        unique = [self.query(f'userName eq "{new["userName"]}"')] if new["userName"] != old["userName"] else []
        if taken(self.backend, "users", unique, entry.id):
            raise AlreadyExists(new["userName"])
        old_record, new_record = self.record(old), self.record(new)
        diff = codec.diff(old_record, new_record, store_spec(self.users).multi_valued)
        return self.backend.modify("users", Update(entry, tuple(diff), new_record), self.attributes)

    def find(self, text: str, start: int = 1, count: int = 100) -> list[str]:
        page = self.backend.search("users", self.query(text), self.attributes, start, count)
        return [self.scim(entry)["userName"] for entry in page.entries]

    def get(self, id: str) -> dict:
        return self.scim(self.backend.get("users", id, self.attributes))


@pytest.fixture(params=["ldap", "rest"])
def store(request) -> Store:
    if request.param == "ldap":
        slapd = request.getfixturevalue("slapd")
        request.getfixturevalue("directory")  # emptied
        users = load_mapping(OPENLDAP_MAP).users
        pool = ConnectionPool(LdapSettings(slapd.url, SERVICE_DN, slapd.service_password, timeout=5))
        backend: Backend = LdapBackend(pool, {"users": store_spec(users)})
    else:
        hr_api = request.getfixturevalue("hr_api")
        request.getfixturevalue("employees")  # emptied
        users = load_mapping(HR_MAP).users
        settings = RestSettings(hr_api.url, ApiAuthSettings("api_key", hr_api.api_key), timeout=5, retry_budget=2)
        backend = RestBackend(Transport(settings), {"users": store_spec(users)})
    yield Store(request.param, backend, users)
    backend.close()


def test_create_returns_the_new_entry_with_its_id_and_every_value(store):
    entry = store.create(
        "alice@contoso.com",
        externalId="e-alice",
        displayName="Alice",
        emails=[{"type": "work", "value": "alice@contoso.com"}],
        name={"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"},
        addresses=[{"type": "work", "locality": "Utrecht", "country": "Netherlands"}],
    )
    resource = store.scim(entry)
    assert entry.id and resource["id"] == entry.id
    assert resource["userName"] == "alice@contoso.com"
    assert resource["emails"] == [{"type": "work", "value": "alice@contoso.com"}]
    assert resource["name"] == {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"}
    assert resource["addresses"] == [{"type": "work", "locality": "Utrecht", "country": "Netherlands"}]
    assert resource["active"] is True
    assert entry.created and entry.modified


def test_get_reads_back_what_create_wrote(store):
    id = store.create("bob", displayName="Bob", title="Engineer").id
    read = store.get(id)
    assert (read["id"], read["userName"], read["displayName"], read["title"]) == (id, "bob", "Bob", "Engineer")


def test_get_an_unknown_id_is_not_found(store):
    with pytest.raises(NotFound):
        store.backend.get("users", UNKNOWN_IDS[store.name], store.attributes)


def test_create_with_a_taken_username_in_another_case_already_exists(store):
    store.create("carol@contoso.com")
    with pytest.raises(AlreadyExists):
        store.create("CAROL@contoso.com")


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "dave@contoso.com"',
        'USERNAME eq "DAVE@contoso.com"',
        'externalId eq "e-dave"',
        'emails[type eq "work"].value eq "dave@work.com"',
        'userName eq "dave@contoso.com" and externalId eq "e-dave"',
        'displayName eq "Dave"',
    ],
)
def test_search_answers_the_filters_entra_sends(store, text):
    store.create("erin@contoso.com", externalId="e-erin", displayName="Erin")
    store.create(
        "dave@contoso.com", externalId="e-dave", displayName="Dave", emails=[{"type": "work", "value": "dave@work.com"}]
    )
    assert store.find(text) == ["dave@contoso.com"]


def test_search_for_a_random_guid_finds_nothing(store):
    store.create("frank")
    assert store.find('userName eq "cf4d78e8-7c3b-4d5f-9b1e-5a2e1f0c9d87"') == []
    assert store.find('userName eq "frank" and externalId eq "not-his"') == []


def test_list_windows_carry_the_true_total(store):
    names = [f"user{i:02d}" for i in range(7)]
    for name in names:
        store.create(name)
    page = store.backend.search("users", EVERYTHING, store.attributes, 3, 2)
    assert page.total == 7
    assert [store.scim(e)["userName"] for e in page.entries] == names[2:4]
    assert store.backend.search("users", EVERYTHING, store.attributes, 1, 0).total == 7
    beyond = store.backend.search("users", EVERYTHING, store.attributes, 50, 10)
    assert (beyond.total, beyond.entries) == (7, [])


def test_modify_replaces_and_clears_values(store):
    entry = store.create("grace", displayName="Grace", title="Engineer", phoneNumbers=[{"type": "work", "value": "1"}])
    after = store.update(entry, displayName="Grace Hopper", title=None, phoneNumbers=None)
    resource = store.scim(after)
    assert resource["displayName"] == "Grace Hopper"
    assert "title" not in resource and "phoneNumbers" not in resource
    assert store.get(entry.id) == resource | {"meta": store.get(entry.id)["meta"]}


def test_disable_and_enable_round_trip(store):
    entry = store.create("heidi")
    disabled = store.update(entry, active=False)
    assert store.scim(disabled)["active"] is False
    assert store.get(entry.id)["active"] is False
    assert store.find('userName eq "heidi"') == ["heidi"]  # a disabled user is still found
    enabled = store.update(disabled, active=True)
    assert store.scim(enabled)["active"] is True
    assert store.get(entry.id)["active"] is True


def test_a_user_created_disabled_starts_disabled(store):
    entry = store.create("ivan", active=False)
    assert store.scim(entry)["active"] is False
    assert store.get(entry.id)["active"] is False


def test_rename_keeps_the_id(store):
    entry = store.create("judy")
    after = store.update(entry, userName="judy.renamed")
    assert after.id == entry.id
    assert store.get(entry.id)["userName"] == "judy.renamed"
    assert store.find('userName eq "judy"') == []


def test_rename_to_a_taken_username_already_exists_and_changes_nothing(store):
    store.create("kim")
    entry = store.create("leo")
    with pytest.raises(AlreadyExists):
        store.update(entry, userName="KIM")
    assert store.get(entry.id)["userName"] == "leo"


def test_delete_then_not_found(store):
    id = store.create("mallory").id
    store.backend.delete("users", id)
    with pytest.raises(NotFound):
        store.backend.get("users", id, store.attributes)
    with pytest.raises(NotFound):
        store.backend.delete("users", id)


def test_manager_is_stored_as_a_reference_and_read_back_as_the_id(store):
    boss = store.create("boss").id
    entry = store.create("niaj", **{ENTERPRISE: {"manager": {"value": boss}}})
    assert store.get(entry.id)[ENTERPRISE]["manager"] == {"value": boss}
    manager_check = f'id eq "{entry.id}" and manager eq "{boss}"'  # Entra's manager check
    assert store.find(manager_check) == ["niaj"]
    cleared = store.update(entry, **{ENTERPRISE: None})
    assert ENTERPRISE not in store.scim(cleared)


def test_resolve_completes_known_ids_and_names_unknown_ones(store):
    boss = store.create("olivia").id
    resolved = store.backend.resolve([Ref("users", boss)])
    assert resolved[Ref("users", boss)].locator
    with pytest.raises(UnknownReference) as caught:
        store.backend.resolve([Ref("users", boss), Ref("users", UNKNOWN_IDS[store.name])])
    assert caught.value.ids == [UNKNOWN_IDS[store.name]]
