"""Test helpers for the fake: plain HTTP with cookies, sign-in without a browser,
and the app's own JSON calls. Not used by the server itself."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

from fakes.photos.profile import DEFAULT_BROWSER, PORTABLE_PROFILE_FLAGS, QUIET_NETWORK_FLAGS

CHROMIUM = DEFAULT_BROWSER
BROWSER_ARGS = [*PORTABLE_PROFILE_FLAGS, *QUIET_NETWORK_FLAGS]
ALICE = "alice@example.com"
BOB = "bob@example.com"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def location(self) -> str:
        return self.headers.get("Location") or ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def fetch(
    url: str,
    method: str = "GET",
    form: dict[str, str] | None = None,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15,
) -> Reply:
    """One request, redirects not followed, errors returned as replies."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http URL: {url}")
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    if cookie:
        request.add_header("Cookie", f"SID={cookie}")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


def session_cookie(reply: Reply) -> str:
    for header in reply.headers.get_all("Set-Cookie") or []:
        match = re.match(r"SID=([^;]*)", header)
        if match:
            return match.group(1)
    raise AssertionError(f"no session cookie in {reply.headers}")


def sign_in(base_url: str, email: str, cookie: str | None = None) -> str:
    """Go through the sign-in form as a browser would; returns the new cookie value."""
    step = fetch(
        f"{base_url}/v3/signin/identifier",
        "POST",
        {"identifier": email, "continue": "/"},
        cookie,
    )
    assert step.status == 302, step.text
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(step.location).query)["TL"][0]
    done = fetch(
        f"{base_url}/v3/signin/challenge/pwd", "POST", {"TL": state, "continue": "/"}, cookie
    )
    assert done.status == 302
    return session_cookie(done)


class AppCalls:
    """Makes the single-page app's internal JSON calls, as its script does."""

    def __init__(self, base_url: str, cookie: str, index: int = 0, hl: str = "en") -> None:
        prefix = f"/u/{index}/" if index else "/"
        shell = fetch(f"{base_url}{prefix}?hl={hl}", cookie=cookie)
        assert shell.status == 200, shell.status
        found = re.search(
            r'<script id="wiz_global_data" type="application/json">(.*?)</script>', shell.text
        )
        assert found
        self.init = json.loads(found.group(1))
        self.base_url = base_url
        self.cookie = cookie
        self.hl = hl

    def call(self, rpc_id: str, args: list[Any]) -> Reply:
        return fetch(
            f"{self.base_url}{self.init['rpc']}?rpcids={rpc_id}&hl={self.hl}&rt=c",
            "POST",
            {
                "f.req": json.dumps([[[rpc_id, json.dumps(args), None, "generic"]]]),
                "at": self.init["at"],
            },
            self.cookie,
        )

    def answer(self, rpc_id: str, args: list[Any]) -> Any:
        reply = self.call(rpc_id, args)
        assert reply.status == 200, reply.status
        envelope = json.loads(reply.text.split("\n\n", 1)[1])
        return json.loads(envelope[0][2])

    def listed_ids(self, view: str = "library") -> list[str]:
        """Every id of a view (library, recent, archive, or `album:<albumId>`: its album
        item ids), as the app lists them."""
        outline = self.answer("lcxiM", [view])
        ids: list[str] = []
        for page in outline["pages"]:
            ids += [item[0] for item in self.answer("EzkLib", [page["t"], view])["items"]]
        return ids

    def download_url(self, item_id: str, original: bool = False) -> str:
        found = self.answer("pLFTfd", [item_id, "", int(original)])
        assert "url" in found, found
        return f"{self.base_url}{found['url']}"


def _ordered(items: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Newest first by `field`; ties keep the manifest's order (newer additions first)."""
    return sorted(items, key=lambda i: dt.datetime.fromisoformat(i[field]), reverse=True)


def visible_ids(manifest: dict[str, Any], email: str) -> list[str]:
    """The grid `/` in order: not deleted, not archived, by date taken, newest first."""
    items = manifest["accounts"][email]["items"]
    shown = [i for i in items if i["state"] != "deleted" and not i.get("archived")]
    return [i["id"] for i in _ordered(shown, "taken")]


def recent_ids(manifest: dict[str, Any], email: str) -> list[str]:
    """Recently added `/search/_tra_` in order: not deleted, by upload time, newest first."""
    items = manifest["accounts"][email]["items"]
    return [i["id"] for i in _ordered([i for i in items if i["state"] != "deleted"], "uploaded")]


def archived_ids(manifest: dict[str, Any], email: str) -> list[str]:
    """The archive `/archive` in order: archived, not deleted, by date taken."""
    items = manifest["accounts"][email]["items"]
    shown = [i for i in items if i["state"] != "deleted" and i.get("archived")]
    return [i["id"] for i in _ordered(shown, "taken")]


def albums(manifest: dict[str, Any], email: str) -> list[dict[str, Any]]:
    """The account's albums in /albums order (each with its items in display order)."""
    return list(manifest["accounts"][email]["albums"])


def album_item_ids(manifest: dict[str, Any], email: str, album_id: str) -> list[str]:
    """An album's items in display order, by their album item ids."""
    album = next(a for a in albums(manifest, email) if a["id"] == album_id)
    return [entry["album_item_id"] for entry in album["items"]]


def items_by_k(manifest: dict[str, Any], email: str) -> list[dict[str, Any]]:
    """Items oldest first, so that index k is item k of the library."""
    return list(reversed(manifest["accounts"][email]["items"]))


def wait_item_loaded(page: Any) -> None:
    """Wait until the viewer has loaded its item (the file name becomes the title).

    Until then the viewer does not know where the item sits, and an arrow key does nothing.
    """
    page.wait_for_function(
        "document.title.endsWith(' - Google Photos') && document.title !== 'Photos - Google Photos'"
    )


def signed_in_context(browser: Any, base_url: str, emails: list[str], **options: Any) -> Any:
    """A browser context holding a session cookie for `emails` (in /u/<n>/ order)."""
    cookie = None
    for email in emails:
        cookie = sign_in(base_url, email, cookie)
    context = browser.new_context(
        accept_downloads=True, locale=options.pop("locale", "en-US"), **options
    )
    assert cookie is not None
    context.add_cookies([{"name": "SID", "value": cookie, "url": base_url}])
    return context
