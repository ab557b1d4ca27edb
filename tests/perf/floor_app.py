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
"""

from __future__ import annotations

import json
import os
import re

from flask import Flask, Response, request

USER_NAME = re.compile(r'userName eq "([^"]*)"')


def create_app() -> Flask:
    with open(os.environ["FLOOR_BODIES"]) as file:
        bodies = json.load(file)
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
