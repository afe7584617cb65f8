"""Headless Chromium for the viewer tests: load a local HTML file, dump its DOM or screenshot it.

The browser is Debian's `chromium` (installed by `.ci/run`), run with a throwaway profile, no
network features and `file://` pages only. `rendered_dom` parses the serialized DOM Chromium
returns with the standard library's `html.parser` into a flat list of elements.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

_FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root in a container
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
)


def chromium() -> str:
    """The Chromium executable; a clear failure (not a skip) when it is not installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium package is required (apt-get install chromium; see .ci/run)"
    return found


def _run(page: Path, profile: Path, *extra: str) -> str:
    done = subprocess.run(  # fixed argv, no shell
        [chromium(), *_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM Chromium built for `page`, serialized."""
    return _run(page, profile, "--dump-dom")


def screenshot(page: Path, profile: Path, out: Path, *, width: int, height: int) -> None:
    """A PNG of the page rendered in a `width` x `height` window."""
    _run(page, profile, f"--screenshot={out}", f"--window-size={width},{height}")


@dataclass
class Element:
    """One element of the rendered DOM: tag, attributes and its text content."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)


class _Collector(HTMLParser):
    _VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "col", "source"})

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if self._open:
            self._open[-1].children.append(element)
        if tag not in self._VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


def rendered_dom(page: Path, profile: Path) -> list[Element]:
    """Every element of the DOM Chromium rendered, in document order."""
    collector = _Collector()
    collector.feed(dump_dom(page, profile))
    return collector.elements
