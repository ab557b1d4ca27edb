"""Functions a template placeholder pipes its value through: `{userName | before:@ | account-name}`.

Pure text in, text out; the loader checks names and arguments once, with the line.

- `before:X` / `after:X`: the part before (after) the first X; the whole value when X is absent.
- `lower`, `upper`: the case.
- `max:N`: at most N characters.
- `account-name`: what Active Directory takes as a sAMAccountName (the pre-Windows 2000 logon
  name): the characters AD refuses (" / \\ [ ] : ; | = , + * ? < > @ and control characters)
  become `_`, leading and trailing dots and spaces go, and at most 20 characters remain
  (real AD refuses longer user names; Samba accepts them). Making it unique among existing
  accounts needs the directory: the LDAP backend does that (ldap `unique_names:`).
"""

from __future__ import annotations

import re

AD_REFUSED = re.compile(r'["/\\\[\]:;|=,+*?<>@\x00-\x1f]')
ACCOUNT_NAME_LENGTH = 20


def _account_name(value: str, argument: str | None) -> str:
    limit = int(argument) if argument else ACCOUNT_NAME_LENGTH
    return AD_REFUSED.sub("_", value).strip(" .")[:limit].rstrip(" .")


FUNCTIONS = {
    "before": (True, lambda value, arg: value.split(arg, 1)[0]),
    "after": (True, lambda value, arg: value.split(arg, 1)[1] if arg in value else value),
    "lower": (False, lambda value, arg: value.lower()),
    "upper": (False, lambda value, arg: value.upper()),
    "max": (True, lambda value, arg: value[: int(arg)]),
    "account-name": (None, _account_name),  # None: the argument is optional
}


def split_placeholder(placeholder: str) -> tuple[str, list[tuple[str, str | None]]]:
    """'userName | before:@ | max:20' -> ('userName', [('before', '@'), ('max', '20')])."""
    path, *calls = (part.strip() for part in placeholder.split("|"))
    found = []
    for call in calls:
        name, _, argument = call.partition(":")
        found.append((name.strip(), argument if _ else None))
    return path, found


def problems(calls: list[tuple[str, str | None]]) -> list[str]:
    found = []
    for name, argument in calls:
        if name not in FUNCTIONS:
            found.append(f"'{name}' is not a template function; choose one of {', '.join(FUNCTIONS)}")
            continue
        needs = FUNCTIONS[name][0]
        if needs is True and not argument:
            found.append(f"{name} needs an argument, e.g. {name}:{'20' if name == 'max' else '@'}")
        elif needs is False and argument is not None:
            found.append(f"{name} takes no argument")
        elif name in ("max", "account-name") and argument is not None and not argument.isdigit():
            found.append(f"{name}:{argument}: the argument is a number of characters")
    return found


def apply(value: str, calls: list[tuple[str, str | None]]) -> str:
    for name, argument in calls:
        value = FUNCTIONS[name][1](value, argument)
    return value
