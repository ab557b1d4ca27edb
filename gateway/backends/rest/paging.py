"""The API's list call and its own paging: offsets, page numbers, or everything at once.

A SCIM window (startIndex, count) becomes the fewest list calls that cover it; the total comes
from the answer when the map says where it is, and is counted by reading on when it does not.
An API that ignores the paging parameters is caught (the same page twice), never looped on.
"""

from __future__ import annotations

from typing import Any

from gateway.backends.base import BackendError, TooManyResults
from gateway.backends.rest.records import get_field
from gateway.backends.rest.target import ListOperation
from gateway.backends.rest.transport import Sender


def window(transport: Sender, listing: ListOperation, start: int, count: int) -> tuple[int, list[dict]]:
    """The total, and records start..start+count-1 (1-based) of the plain list."""
    found: list[dict] = []
    position, total = start - 1, None
    params = dict(listing.params)
    while len(found) < count:
        page, total = _page(transport, listing, params, position, count - len(found))
        found.extend(page[: count - len(found)])
        position += len(page)
        if not page or listing.paging.style == "none" or (total is not None and position >= total):
            break
    if count == 0:
        _, total = _page(transport, listing, params, 0, 1)
    if total is None:
        # The API does not say how many there are: count by reading on (list.total avoids this).
        # Records before `position` exist only if the window found some; else count from the start.
        if position and not found:
            position = 0
        total = position + len(everything(transport, listing, params, None, position))
    return total, found


def everything(
    transport: Sender, listing: ListOperation, params: dict[str, str], limit: int | None, position: int = 0
) -> list[dict]:
    """Every record the list call returns with these parameters (from `position`); at most `limit`."""
    found: list[dict] = []
    seen: set[str] = set()  # the first record of each page: an API that ignores the paging repeats it
    while True:
        page, total = _page(transport, listing, params, position, listing.paging.size)
        if not page:
            return found
        marker = repr(page[0])
        if marker in seen:
            raise BackendError("the API answered the same page twice; check the map's list.paging")
        seen.add(marker)
        found.extend(page)
        position += len(page)
        if limit is not None and len(found) > limit:
            raise TooManyResults(f"this filter matches more than {limit} records in the API; narrow it")
        if listing.paging.style == "none" or (total is not None and position >= total):
            return found


def first_record(listing: ListOperation) -> dict[str, str]:
    """The list call's parameters that ask for one record (the first), in the API's paging."""
    paging = listing.paging
    params = dict(listing.params)
    if paging.style == "offset":
        params |= {paging.offset: "0", paging.limit: "1"}
    elif paging.style == "page":
        params |= {paging.page: str(paging.first_page), paging.limit: "1"}
    return params


def _page(
    transport: Sender, listing: ListOperation, params: dict[str, str], position: int, want: int
) -> tuple[list[dict], int | None]:
    """One list call: the records from `position` on (up to a page), and the total if given."""
    paging = listing.paging
    query = dict(params)
    skip = 0
    if paging.style == "offset":
        query[paging.offset] = str(position)
        query[paging.limit] = str(max(1, min(want, paging.size)))
    elif paging.style == "page":
        query[paging.page] = str(paging.first_page + position // paging.size)
        query[paging.limit] = str(paging.size)
        skip = position % paging.size
    else:
        skip = position
    reply = transport.request("GET", listing.path, params=query, idempotent=True)
    items = reply.body if listing.items is None else get_field(reply.body, listing.items)
    if not isinstance(items, list):
        raise BackendError(f"the API's list answer holds no array at {listing.items or 'its top level'}")
    total = get_field(reply.body, listing.total) if listing.total else None
    if paging.style == "none" and total is None:
        total = len(items)
    documents = [item for item in items if isinstance(item, dict)]
    return documents[skip:], _count(total)


def _count(total: Any) -> int | None:
    if isinstance(total, bool):
        return None
    if isinstance(total, int):
        return total
    return int(total) if isinstance(total, str) and total.isdigit() else None
