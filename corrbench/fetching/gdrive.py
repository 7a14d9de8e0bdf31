"""Google Drive links: direct-download URLs and the "can't scan this file for viruses" confirm page.

Drive serves large files only after a confirmation: either an HTML form (``id="download-form"``,
hidden ``id``/``export``/``confirm``/``uuid`` inputs, action on ``drive.usercontent.google.com``),
or, on older pages, a link or a ``download_warning`` cookie carrying a ``confirm`` token.  The
downloader follows either; a page without one (quota exceeded, private file) is reported as such.
Folder links cannot be fetched file by file without a browser and stay a manual step.
"""

from __future__ import annotations

from html.parser import HTMLParser
from http.cookiejar import CookieJar
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

DRIVE_HOSTS = ("drive.google.com", "docs.google.com", "drive.usercontent.google.com")


def is_drive(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in DRIVE_HOSTS)


def is_folder(url: str) -> bool:
    """A Drive *folder* link: only a browser (or the folder's file ids) can fetch what is inside."""
    return is_drive(url) and "/folders/" in urlparse(url).path


def file_id(url: str) -> str | None:
    """The file id of ``/file/d/<id>/…``, ``open?id=<id>`` and ``uc?id=<id>`` links."""
    parsed = urlparse(url)
    parts = parsed.path.split("/")
    if "d" in parts and parts.index("d") + 1 < len(parts):
        return parts[parts.index("d") + 1] or None
    ids = parse_qs(parsed.query).get("id")
    return ids[0] if ids else None


def direct_url(url: str) -> str:
    """The ``uc?export=download`` form of a Drive file link; any other URL unchanged."""
    if not is_drive(url) or is_folder(url):
        return url
    ident = file_id(url)
    return f"https://drive.google.com/uc?export=download&id={ident}" if ident else url


class _ConfirmPage(HTMLParser):
    """Collects the download form (action + inputs) and any link carrying ``confirm=``."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.links: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form" and (values.get("id") == "download-form" or "download" in values.get("action", "")):
            self._in_form = True
            self.action = values.get("action")
        elif tag == "input" and self._in_form and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "a" and "confirm=" in values.get("href", ""):
            self.links.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def confirm_url(html: str, page_url: str, cookies: CookieJar | None = None) -> str | None:
    """The URL that actually serves the file behind a Drive confirm page, or None if the page has none."""
    page = _ConfirmPage()
    page.feed(html)
    if page.action and page.fields:
        return urljoin(page_url, page.action) + "?" + urlencode(page.fields)
    if page.links:
        return urljoin(page_url, page.links[0].replace("&amp;", "&"))
    for cookie in cookies or ():
        if cookie.name.startswith("download_warning"):
            separator = "&" if urlparse(page_url).query else "?"
            return f"{page_url}{separator}confirm={cookie.value}"
    return None
