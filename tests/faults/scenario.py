"""Clients that keep provisioning while a fault happens, and the data check afterwards."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tests.faults.conftest import Answer, Gateway

UNKNOWN = "whether the change was made is unknown"


@dataclass
class Client:
    """One Entra-like client: creates users of its own and renames the title of one user it owns."""

    number: int
    gateway: Gateway
    owned_id: str
    created: list[Answer] = field(default_factory=list)
    titles: list[tuple[str, Answer]] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        step = 0
        while not stop.is_set():
            step += 1
            if step % 3 == 1:
                user = f"c{self.number}-u{step}"
                body = {"userName": user, "active": True, "name": {"givenName": "F", "familyName": user}}
                self.created.append(self.gateway.send("POST", "/Users", user, body))
            elif step % 3 == 2:
                title = f"t{self.number}-{step}"
                operations = [{"op": "replace", "path": "title", "value": title}]
                patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
                self.titles.append((title, self.gateway.send("PATCH", f"/Users/{self.owned_id}", "", patch)))
            else:
                self.gateway.send("GET", f'/Users?filter=userName eq "c{self.number}-u1"')
            if self.gateway.answers[-1].status != 200 and self.gateway.answers[-1].status != 201:
                time.sleep(0.1)  # Entra backs off after a failure too


def run_clients(gateway: Gateway, count: int, during) -> list[Client]:
    """`count` clients provisioning through `during()` (the fault), then a second more."""
    clients = []
    for number in range(count):
        owned = gateway.send("POST", "/Users", f"owner{number}", {"userName": f"owner{number}", "active": True})
        assert owned.status == 201, owned
        clients.append(Client(number, gateway, gateway.find(f"owner{number}")[0]["id"]))
    for _ in range(8):  # every worker keeps a sorted list, likely: no worker may miss the others' writes
        assert gateway.total() == count
    gateway.answers.clear()
    stop = threading.Event()
    threads = [threading.Thread(target=client.run, args=(stop,)) for client in clients]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        during()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    return clients


def check_data(gateway: Gateway, clients: list[Client]) -> dict:
    """No loss, no duplicate, no orphan; an Entra-like retry settles every create in doubt; every
    worker's listings count every user."""
    counts = {"created": 0, "in_doubt": 0, "refused": 0}
    for client in clients:
        for answer in client.created:
            found = gateway.find(answer.user)
            assert len(found) <= 1, f"{answer.user} exists {len(found)} times"
            if answer.status == 201:
                counts["created"] += 1
                assert len(found) == 1, f"{answer.user} was answered 201 and is gone"
            elif UNKNOWN in answer.detail:
                counts["in_doubt"] += 1
                if not found:  # Entra's retry: look up first, then create
                    again = gateway.send("POST", "/Users", answer.user, {"userName": answer.user, "active": True})
                    assert again.status in (201, 409), again
                assert len(gateway.find(answer.user)) == 1
            else:
                counts["refused"] += 1
                assert found == [], f"{answer.user} was answered {answer.status} {answer.detail!r} and exists"
        current = gateway.find(f"owner{client.number}")[0].get("title")
        done = [i for i, (_, answer) in enumerate(client.titles) if answer.status == 200]
        possible = {title for i, (title, answer) in enumerate(client.titles) if UNKNOWN in answer.detail}
        if done:
            possible.add(client.titles[done[-1]][0])
            possible = {t for t in possible if _after(client.titles, t, done[-1])}
        assert current in possible | ({None} if not done else set()), (current, client.titles)
    users = len(clients) + counts["created"] + counts["in_doubt"]
    totals = [gateway.total() for _ in range(8)]
    assert totals == [users] * len(totals), f"{users} users, listed as {totals}"  # whichever worker lists them
    return counts


def _after(titles: list, title: str, index: int) -> bool:
    return any(t == title and i >= index for i, (t, _) in enumerate(titles))
