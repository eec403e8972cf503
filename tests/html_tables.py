"""Reading a rendered page in tests: the cell texts of its tables row by row, and its links."""

import re
from html.parser import HTMLParser

ICON_CLASS = "material-symbols-outlined"
# What the theme draws that no person reads as the table's text: its icons (ligatures of its
# icon font, such as a sort arrow) and the sort priority beside a column's heading.
UNREAD_CLASSES = {ICON_CLASS, "sortpriority"}


class _TableReader(HTMLParser):
    """Collects the cell texts, row by row, of every table in a page, with its attributes,
    leaving out the spans of UNREAD_CLASSES."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[dict, list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._icon_depth = 0

    def handle_starttag(self, tag, attrs):
        if self._icon_depth:
            self._icon_depth += tag == "span"
        elif tag == "span" and UNREAD_CLASSES & set((dict(attrs).get("class") or "").split()):
            self._icon_depth = 1
        elif tag == "table":
            self.tables.append((dict(attrs), []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []

    def handle_endtag(self, tag):
        if self._icon_depth:
            self._icon_depth -= tag == "span"
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None and not self._icon_depth:
            self._cell.append(data)


def table_rows(response, **attributes: str) -> list[list[str]]:
    """The rows of the one table of the page whose attributes hold these values, each as one of
    the attribute's words (`class_` for class, `data_part` for data-part)."""
    reader = _TableReader()
    reader.feed(response.content.decode())
    wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attributes.items()}
    matches = [
        rows
        for attrs, rows in reader.tables
        if all(value in (attrs.get(name) or "").split() for name, value in wanted.items())
    ]
    assert len(matches) == 1, f"{len(matches)} tables with {wanted}"
    return matches[0]


class _LinkReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.add(href)


def page_links(response) -> set[str]:
    """The addresses that the page's links lead to."""
    reader = _LinkReader()
    reader.feed(response.content.decode())
    return reader.links


def object_tools(response) -> list[str]:
    """The texts of the links the page's header offers for its object or list (the theme's
    tab actions), in order, without their icons."""
    page = response.content.decode()
    block = re.search(r'<ul class="bg-white container[^"]*"[^>]*>(.*?)</ul>', page, re.S)
    if block is None:
        return []
    without_icons = re.sub(rf'<span class="{ICON_CLASS}">.*?</span>', "", block[1], flags=re.S)
    return [
        " ".join(text.split()) for text in re.findall(r"<a [^>]*>(.*?)</a>", without_icons, re.S)
    ]
