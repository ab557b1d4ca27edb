"""The floor of the cycle benchmark: a Flask app that answers each request kind of the cycle with
the body the gateway gave it, and does nothing else.

Served by the same gunicorn as the gateway (deploy/gunicorn.conf.py, its worker class, workers
and threads), driven by the same clients, it measures what Flask and gunicorn alone cost per
request on this machine: no authentication, no SCIM, no mapping, no directory.

The bodies come from a JSON file named by FLOOR_BODIES ({kind: [status, body text, headers]}),
written by the benchmark from the gateway's own answers in the same run, so each answer is the
same size. One thing is kept: which userNames were created, so that a lookup before the create
finds nothing and one after finds the user (a client's keep-alive connection stays with the
worker that accepted it, so each worker's own set is enough).

With FLOOR_LDAP set ({url, bind_dn, password, people, client}), it is the bound instead: each
request also makes the ceiling's own directory operation (test_cycle.ldap3_share's: one search,
add, modify or delete, no controls), on a connection per thread with the gateway's LDAP client
(on ldap3, its requests written by wire.py as the gateway's are).
That is the most a Flask + gunicorn gateway doing no work of its own could serve: what is left
between it and the ceiling is what HTTP, gunicorn and Flask cost. Two differences from the
ceiling, both in its favour: a created user's id in the answers is its uid (get by id searches
uid, not entryUUID, both indexed for equality), and a group's DN is looked up once per worker.
"""

from __future__ import annotations

import json
import os
import re
import threading

from flask import Flask, Response, request

from tests.sandbox.slapd import GROUPS_DN

USER_NAME = re.compile(r'userName eq "([^"]*)"')


def create_app() -> Flask:
    with open(os.environ["FLOOR_BODIES"]) as file:
        bodies = json.load(file)
    if os.environ.get("FLOOR_LDAP"):
        return _bound(bodies, json.loads(os.environ["FLOOR_LDAP"]))
    created: set[str] = set()
    app = Flask("floor")

    def canned(kind: str) -> Response:
        status, body, headers = bodies[kind]
        return Response(body, status, headers, content_type="application/scim+json")

    @app.get("/healthz")
    def health():
        return {"status": "ok"}

    @app.get("/scim/v2/Users")
    def lookup():
        found = USER_NAME.search(request.args.get("filter", ""))
        return canned("lookup" if found and found.group(1) in created else "lookup miss")

    @app.post("/scim/v2/Users")
    def create():
        created.add(request.get_json(force=True)["userName"])
        return canned("create")

    @app.get("/scim/v2/Users/<id>")
    def get(id: str):
        return canned("get by id")

    @app.patch("/scim/v2/Users/<id>")
    def update(id: str):
        operations = request.get_json(force=True)["Operations"]
        return canned("disable" if operations[0]["path"] == "active" else "update")

    @app.patch("/scim/v2/Groups/<id>")
    def add_to_group(id: str):
        return canned("add to group")

    @app.delete("/scim/v2/Users/<id>")
    def delete(id: str):
        return canned("delete")

    return app


def _bound(bodies: dict, ldap: dict) -> Flask:
    """The floor plus the ceiling's directory operation per request (see the module's text)."""
    app = Flask("bound")
    directory = _Directory(ldap)
    created_id = json.loads(bodies["create"][1])["id"]
    group_dns: dict[str, str] = {}

    def canned(kind: str, uid: str | None = None) -> Response:
        status, body, headers = bodies[kind]
        if uid is not None:
            body = body.replace(created_id, uid)
            headers = {name: value.replace(created_id, uid) for name, value in headers.items()}
        return Response(body, status, headers, content_type="application/scim+json")

    def dn(uid: str) -> str:
        return f"uid={uid},{ldap['people']}"

    @app.get("/healthz")
    def health():
        return {"status": "ok"}

    @app.get("/scim/v2/Users")
    def lookup():
        uid = USER_NAME.search(request.args.get("filter", "")).group(1)
        found = directory.search(f"(uid={uid})")
        return canned("lookup" if found else "lookup miss", uid if found else None)

    @app.post("/scim/v2/Users")
    def create():
        user = request.get_json(force=True)
        uid = user["userName"]
        enterprise = user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
        directory.add(
            dn(uid),
            {
                "objectClass": ["inetOrgPerson", "scimGatewayPerson"],
                "uid": [uid],
                "scimExternalId": [user["externalId"]],
                "displayName": [user["displayName"]],
                "title": [user["title"]],
                "givenName": [user["name"]["givenName"]],
                "sn": [user["name"]["familyName"]],
                "cn": [user["name"]["formatted"]],
                "mail": [user["emails"][0]["value"]],
                "departmentNumber": [enterprise["department"]],
                "employeeNumber": [enterprise["employeeNumber"]],
            },
        )
        return canned("create", uid)

    @app.get("/scim/v2/Users/<id>")
    def get(id: str):
        directory.search(f"(uid={id})")
        return canned("get by id", id)

    @app.patch("/scim/v2/Users/<id>")
    def update(id: str):
        operations = request.get_json(force=True)["Operations"]
        if operations[0]["path"] == "active":
            directory.replace(dn(id), {"pwdAccountLockedTime": "000001010000Z"})
            return canned("disable", id)
        values = {o["path"].rpartition(":")[2]: o["value"] for o in operations}
        directory.replace(dn(id), {"departmentNumber": values["department"], "title": values["title"]})
        return canned("update", id)

    @app.patch("/scim/v2/Groups/<id>")
    def add_to_group(id: str):
        if id not in group_dns:
            group_dns[id] = directory.search(f"(entryUUID={id})", GROUPS_DN)[0]
        member = request.get_json(force=True)["Operations"][0]["value"][0]["value"]
        directory.add_member(group_dns[id], dn(member))
        return canned("add to group")

    @app.delete("/scim/v2/Users/<id>")
    def delete(id: str):
        directory.delete(dn(id))
        return canned("delete")

    return app


class _Directory:
    """The ceiling's operations with the gateway's LDAP client, one connection per thread."""

    def __init__(self, ldap: dict):
        self.ldap = ldap
        self.local = threading.local()

    def _connection(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            if self.ldap["client"] == "python-ldap":
                import ldap as libldap

                connection = libldap.initialize(self.ldap["url"])
                connection.simple_bind_s(self.ldap["bind_dn"], self.ldap["password"])
            else:
                import ldap3

                from gateway.backends.ldap.encoded import EncodedRequests

                class Encoded(EncodedRequests, ldap3.Connection):
                    """ldap3 with its requests written by wire.py, as the gateway's client has them."""

                server = ldap3.Server(self.ldap["url"], get_info=ldap3.NONE)
                connection = Encoded(server, self.ldap["bind_dn"], self.ldap["password"], auto_bind=True)
            self.local.connection = connection
        return connection

    @property
    def _libldap(self) -> bool:
        return self.ldap["client"] == "python-ldap"

    def search(self, query: str, base: str | None = None) -> list[str]:
        """The DNs found (the entries' attributes are read, as the ceiling's are, then dropped)."""
        connection, base = self._connection(), base or self.ldap["people"]
        if self._libldap:
            import ldap as libldap

            return [dn for dn, _ in connection.search_ext_s(base, libldap.SCOPE_SUBTREE, query, ["*", "entryUUID"])]
        import ldap3

        connection.search(base, query, ldap3.SUBTREE, attributes=["*", "entryUUID"])
        return [entry["dn"] for entry in connection.response if entry["type"] == "searchResEntry"]

    def add(self, dn: str, attributes: dict[str, list[str]]) -> None:
        connection = self._connection()
        if self._libldap:
            connection.add_ext_s(dn, [(name, [v.encode() for v in values]) for name, values in attributes.items()])
        else:
            assert connection.add(dn, None, attributes), connection.result

    def replace(self, dn: str, values: dict[str, str]) -> None:
        connection = self._connection()
        if self._libldap:
            import ldap as libldap

            connection.modify_ext_s(
                dn, [(libldap.MOD_REPLACE, name, [value.encode()]) for name, value in values.items()]
            )
        else:
            import ldap3

            changes = {name: [(ldap3.MODIFY_REPLACE, [value])] for name, value in values.items()}
            assert connection.modify(dn, changes), connection.result

    def add_member(self, group: str, member: str) -> None:
        connection = self._connection()
        if self._libldap:
            import ldap as libldap

            connection.modify_ext_s(group, [(libldap.MOD_ADD, "member", [member.encode()])])
        else:
            import ldap3

            assert connection.modify(group, {"member": [(ldap3.MODIFY_ADD, [member])]}), connection.result

    def delete(self, dn: str) -> None:
        connection = self._connection()
        if self._libldap:
            connection.delete_ext_s(dn)
        else:
            assert connection.delete(dn), connection.result
