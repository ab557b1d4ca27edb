"""One simple-paged-results search (RFC 2696), read in pieces on a single connection.

SCIM pages by offset (startIndex), LDAP by cookie. Pages before the window and after it are
read as bare DNs (`1.1`: no attributes), only the window carries attributes, and the count of
all of them is the true totalResults: nothing is fetched whole and sliced.

Active Directory refuses a page whose attribute list differs from the first page's of the
same search (Samba: an operations error), so there every page carries the window's
attributes; and no page is larger than the directory's MaxPageSize.
"""

from __future__ import annotations

import ldap3

from gateway.backends.ldap import results
from gateway.backends.ldap.capabilities import UNKNOWN, Capabilities
from gateway.backends.ldap.target import LdapTarget

PAGE_SIZE = 500  # stays under slapd's default size limit even where paging limits were not lifted
PAGED_RESULTS = "1.2.840.113556.1.4.319"


def scope(target: LdapTarget):
    return ldap3.LEVEL if target.scope == "one" else ldap3.SUBTREE


class Pager:
    def __init__(
        self,
        connection: ldap3.Connection,
        target: LdapTarget,
        search_filter: str,
        capabilities: Capabilities = UNKNOWN,
        attributes: list[str] | None = None,
    ):
        self.connection = connection
        self.target = target
        self.filter = search_filter
        self.page_size = min(PAGE_SIZE, capabilities.max_page_size)
        # The attribute list of every page when the directory wants one list for the whole search.
        self.fixed = attributes if capabilities.same_attributes_every_page else None
        self.cookie: bytes | None = None
        self.started = False
        self.done = False

    def _page(self, size: int, attributes: list[str]) -> list[dict]:
        self.connection.search(
            self.target.base,
            self.filter,
            scope(self.target),
            attributes=attributes,
            paged_size=size,
            paged_cookie=self.cookie,
        )
        results.check(self.connection, base=self.target.base)
        self.started = True
        control = ((self.connection.result or {}).get("controls") or {}).get(PAGED_RESULTS)
        self.cookie = control["value"]["cookie"] if control else None
        self.done = not self.cookie
        return results.entries(self.connection)

    def skip(self, how_many: int | None) -> int:
        """Read past `how_many` entries (None: all the rest) as bare DNs; returns how many."""
        skipped = 0
        while not self.done and (how_many is None or skipped < how_many):
            size = self.page_size if how_many is None else min(self.page_size, how_many - skipped)
            skipped += len(self._page(size, self.fixed or ["1.1"]))
        return skipped

    def read(self, count: int, attributes: list[str]) -> list[dict]:
        window: list[dict] = []
        while not self.done and len(window) < count:
            window.extend(self._page(min(self.page_size, count - len(window)), attributes))
        return window
