"""What Active Directory needs before it takes a new account, chosen by the map's ldap section:

- `unique_names: {sAMAccountName: 20}`: the logon name is made unique among the domain's
  accounts (alice, alice2, ... within 20 characters), in one search before the add;
- `random_password: unicodePwd`: every new account gets a random strong password, because
  real AD refuses to enable an account without one (Samba does not check). The account is
  added disabled (userAccountControl bit 0x2), then given its password and the state Entra
  asked for in one modify. The password is never logged, never returned, never kept: Entra
  sends none, and users sign in through whatever the organisation uses (SSO, a reset).
"""

from __future__ import annotations

import secrets
import string

import ldap3

from gateway.backends.ldap import results
from gateway.backends.ldap.compose import escape_filter_value
from gateway.backends.ldap.target import LdapTarget

ACCOUNT_CONTROL = "useraccountcontrol"
ACCOUNT_DISABLED = 0x2
PASSWORD_LENGTH = 32
SUFFIX_ATTEMPTS = 99


def unique_names(connection: ldap3.Connection, target: LdapTarget, values: dict[str, list]) -> dict[str, list]:
    """`values` with each `unique_names` attribute changed to a name nobody in the domain has."""
    values = dict(values)
    for name, limit in target.unique_names.items():
        spelled = next((key for key in values if key.lower() == name), None)
        if spelled is None or not values[spelled]:
            continue
        wanted = str(values[spelled][0])[:limit]
        stem = wanted[: max(1, limit - len(str(SUFFIX_ATTEMPTS)))]
        search_filter = f"(|({spelled}={escape_filter_value(wanted)})({spelled}={escape_filter_value(stem)}*))"
        connection.search(_domain(target.base), search_filter, ldap3.SUBTREE, attributes=[spelled])
        results.check(connection, allow={4})
        taken = {str(results.first(r["attributes"], spelled) or "").lower() for r in results.entries(connection)}
        values[spelled] = [_first_free(wanted, limit, taken)]
    return values


def _first_free(wanted: str, limit: int, taken: set[str]) -> str:
    if wanted.lower() not in taken:
        return wanted
    for number in range(2, SUFFIX_ATTEMPTS + 1):
        candidate = wanted[: limit - len(str(number))] + str(number)
        if candidate.lower() not in taken:
            return candidate
    return wanted  # every one taken: the directory's refusal says so


def _domain(base: str) -> str:
    """The domain's naming context (the dc= part of the base): logon names are unique there."""
    parts = [part for part in base.split(",") if part.strip().lower().startswith("dc=")]
    return ",".join(parts) or base


def add_disabled(target: LdapTarget, values: dict[str, list]) -> tuple[dict[str, list], str | None]:
    """(what to add, the userAccountControl to set with the password, or None)."""
    if not target.random_password:
        return values, None
    spelled = next((key for key in values if key.lower() == ACCOUNT_CONTROL), None)
    if spelled is None:
        return values, None
    final = int(str(values[spelled][0]))
    return {**values, spelled: [str(final | ACCOUNT_DISABLED)]}, str(final)


def set_random_password(connection: ldap3.Connection, dn: str, attribute: str, account_control: str | None) -> None:
    changes: dict[str, list] = {attribute: [(ldap3.MODIFY_REPLACE, [f'"{random_password()}"'.encode("utf-16-le")])]}
    if account_control is not None:
        changes["userAccountControl"] = [(ldap3.MODIFY_REPLACE, [account_control])]
    connection.modify(dn, changes)
    results.check(connection)


def random_password() -> str:
    """32 characters, each of the four kinds AD's complexity rule counts among them."""
    kinds = [string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%+-.:=?@_~"]
    characters = [secrets.choice(kind) for kind in kinds]
    characters += [secrets.choice("".join(kinds)) for _ in range(PASSWORD_LENGTH - len(kinds))]
    secrets.SystemRandom().shuffle(characters)
    return "".join(characters)
