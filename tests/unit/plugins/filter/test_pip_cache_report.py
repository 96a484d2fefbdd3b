# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report filters of the fleet.cache.report playbook: aggregation, totals, the top and the rest, every format."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleet.cache.plugins.filter import pip_cache_report as report_filter
from ansible_collections.fleet.cache.plugins.filter import pip_cache_report_render as render_filter


def _cache(user: str, directory: str | None, *, http: int = 0, wheels: int = 0, other: int = 0, files: int = 3, reason: str = "") -> dict[str, Any]:
    if directory is None:
        return {"user": user, "cache_dir": None, "disabled": True, "disabled_reason": reason or "no-cache-dir = true", "source": "disabled"}
    return {
        "user": user,
        "cache_dir": directory,
        "exists": True,
        "source": "default",
        "disabled": False,
        "buckets": {"http-v2": {"bytes": http}, "http": {"bytes": 0}, "wheels": {"bytes": wheels}, "selfcheck": {"bytes": 0}},
        "other": {"bytes": other},
        "total": {"bytes": http + wheels + other, "files": files, "entries": 2, "oldest": "2026-01-01T00:00:00Z", "newest": "2026-11-01T00:00:00Z"},
        "errors": [],
    }


def _fleet() -> tuple[list[Any], list[str]]:
    results: list[Any] = [
        {"changed": False, "caches": [_cache("root", "/root/.cache/pip", http=100, wheels=50), _cache("alice", "/home/alice/.cache/pip", http=5000, wheels=0)]},
        # bob and carol share one directory: one row, counted once
        {"changed": False, "caches": [_cache("bob", "/srv/pip", http=700, wheels=300, other=1), _cache("carol", "/srv/pip", http=700, wheels=300, other=1)]},
        {"changed": False, "caches": [_cache("dave", None, reason="no-cache-dir = true in [global] of /etc/pip.conf")]},
        {"failed": True, "msg": "boom"},
        None,
    ]
    return results, ["web1", "web2", "ci1", "broken", "gone"]


def test_rows_totals_shared_disabled_and_missing() -> None:
    results, hosts = _fleet()
    report = report_filter.pip_cache_report(results, hosts, top=2, generated="now")
    assert [(row["host"], row["users"], row["bytes"]) for row in report["caches"]] == [
        ("web1", ["alice"], 5000),
        ("web2", ["bob", "carol"], 1001),
        ("web1", ["root"], 150),
    ]
    totals = report["totals"]
    assert totals["bytes"] == 5000 + 1001 + 150
    assert (totals["hosts"], totals["hosts_reporting"], totals["caches"], totals["users"], totals["disabled"]) == (5, 3, 3, 4, 1)
    assert totals["downloads_bytes"] == 5800 and totals["wheels_bytes"] == 350 and totals["other_bytes"] == 1
    assert [row["host"] for row in report["top"]] == ["web1", "web2"]
    assert report["rest"] == {"bytes": 150, "files": 3, "entries": 2, "downloads_bytes": 100, "wheels_bytes": 50, "other_bytes": 0, "caches": 1, "hosts": 1}
    assert [(entry["host"], entry["bytes"], entry["users"]) for entry in report["hosts"]] == [("web1", 5150, 2), ("web2", 1001, 2)]
    assert report["disabled"] == [{"host": "ci1", "user": "dave", "reason": "no-cache-dir = true in [global] of /etc/pip.conf"}]
    assert [item["host"] for item in report["missing"]] == ["broken", "gone"]
    assert report["missing"][0]["reason"].startswith("failed: boom")


def test_every_format_renders_the_same_figures() -> None:
    results, hosts = _fleet()
    report = report_filter.pip_cache_report(results, hosts, top=2)
    table = render_filter.pip_cache_report_render(report, "table")
    assert table.splitlines()[0].startswith(
        "pip caches: 5 host(s) (3 reporting), 3 cache(s) of 4 user(s): 6.2 kB in 9 files (5.8 kB downloads, 350 bytes built wheels)"
    )
    assert "the rest: 1 cache(s) on 1 host(s), 150 bytes" in table
    assert "bob,carol" in table and "disabled: ci1 dave" in table and "no data: gone" in table
    rows = list(csv.DictReader(io.StringIO(render_filter.pip_cache_report_render(report, "csv"))))
    assert [row["state"] for row in rows] == ["cache", "cache", "cache", "disabled", "no data", "no data"]
    assert sum(int(row["bytes"]) for row in rows if row["state"] == "cache") == report["totals"]["bytes"]
    assert json.loads(render_filter.pip_cache_report_render(report, "json"))["totals"] == report["totals"]
    markdown = render_filter.pip_cache_report_render(report, "markdown")
    assert "| *the rest* | 1 caches on 1 hosts | 150 bytes |" in markdown and "## Hosts without data (2)" in markdown


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_a_thousand_hosts_give_a_readable_self_contained_page() -> None:
    hosts = [f"host{number:04d}.example.org" for number in range(1000)]
    results = [
        {"caches": [_cache("root", "/root/.cache/pip", http=number * 1000, wheels=number * 10), _cache("ci", "/home/ci/.cache/pip", http=7)]}
        for number in range(1000)
    ]
    report = report_filter.pip_cache_report(results, hosts, top=20)
    assert report["totals"]["caches"] == 2000 and report["rest"]["caches"] == 1980 and report["rest_hosts"]["hosts"] == 980
    assert report["totals"]["bytes"] == sum(number * 1010 + 7 for number in range(1000))
    assert report["totals"]["bytes"] == sum(row["bytes"] for row in report["top"]) + report["rest"]["bytes"]
    page = render_filter.pip_cache_report_render(report, "html")
    assert len(page) < 60_000, "the page stays small however big the fleet"
    parser = _Page()
    parser.feed(page)
    names = [tag for tag, _attrs in parser.tags]
    assert names.count("svg") == 1 and names.count("g") == 20
    assert not [attrs for tag, attrs in parser.tags if tag in ("script", "link", "img") or (attrs.get("src") or "").startswith("http")], "self-contained"
    text = " ".join(parser.text)
    assert "host0999.example.org" in text and "the other 980 hosts" in text and "1980 caches on 1000 hosts" in text
    assert len(render_filter.pip_cache_report_render(report, "table").splitlines()) < 40


def test_hostile_names_are_escaped() -> None:
    report = report_filter.pip_cache_report([{"caches": [_cache("<b>x</b>", "/tmp/<script>alert(1)</script>|x", http=10)]}], ["h<1>"], top=5)
    page = render_filter.pip_cache_report_render(report, "html")
    assert "<script>" not in page and "&lt;script&gt;" in page
    markdown = render_filter.pip_cache_report_render(report, "markdown")
    assert "`/tmp/<script>alert(1)</script>\\|x`" in markdown  # a code span shows markup as text
    assert "<b>" not in markdown and "&lt;b&gt;x&lt;/b&gt;" in markdown and "h&lt;1&gt;" in markdown  # elsewhere, entities


def test_a_backtick_in_a_path_cannot_end_its_code_span() -> None:
    report = report_filter.pip_cache_report([{"caches": [_cache("u", "/tmp/a`<img src=x onerror=alert(1)>``b", http=10)]}], ["h"], top=5)
    markdown = render_filter.pip_cache_report_render(report, "markdown")
    assert "```/tmp/a`<img src=x onerror=alert(1)>``b```" in markdown, markdown


def test_a_newline_in_a_path_cannot_forge_a_table_row() -> None:
    # pip's configuration allows continuation lines, so a user's cache-dir value can hold a newline.
    forged = "/home/u/c\n  localhost  root   99 TB   9   9 TB  9 TB  /root/.cache/pip"
    report = report_filter.pip_cache_report([{"caches": [_cache("u", forged, http=10)]}], ["h1"], top=5)
    table = render_filter.pip_cache_report_render(report, "table")
    lines = table.splitlines()
    assert not any(line.lstrip().startswith("localhost") for line in lines), table
    assert any("/home/u/c\\n  localhost" in line for line in lines), table
    assert len(lines) == len(
        render_filter.pip_cache_report_render(report_filter.pip_cache_report([{"caches": [_cache("u", "/c", http=10)]}], ["h1"], top=5), "table").splitlines()
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (({"caches": []}, ["h"]), "must be a list"),
        (([{"caches": []}], ["h", "i"]), "one per result"),
        (([{"caches": []}], ["h"], -1), "0 or more"),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        report_filter.pip_cache_report(*args)


def test_render_refuses_other_input_and_formats() -> None:
    with pytest.raises(AnsibleFilterError, match=r"output of fleet\.cache\.pip_cache_report"):
        render_filter.pip_cache_report_render({"x": 1}, "html")
    report = report_filter.pip_cache_report([], [], top=3)
    with pytest.raises(AnsibleFilterError, match="format must be one of"):
        render_filter.pip_cache_report_render(report, "pdf")
    assert "No pip cache found." in render_filter.pip_cache_report_render(report, "html")


# Hostile text in every field a host, a user or a pip configuration controls: markup, both quotes, an ampersand, a
# pipe, a comma, a newline, and what an external reference would look like.
_HOSTILE = "<script>alert(1)</script><link href=\"http://evil.test/x.css\"> @import url(https://evil.test/y.css); 'q'&amp;|a,b\nrow"


def _hostile_report() -> dict[str, Any]:
    cache = _cache("u" + _HOSTILE, "/tmp/d" + _HOSTILE, http=10, wheels=5, other=1)
    cache["source"] = "src" + _HOSTILE
    results = [
        {"caches": [cache, _cache("v" + _HOSTILE, None, reason="why" + _HOSTILE)]},
        {"failed": True, "msg": "msg" + _HOSTILE},
    ]
    return report_filter.pip_cache_report(results, ["h" + _HOSTILE, "g" + _HOSTILE], top=5, generated="gen" + _HOSTILE)


class _Document(_Page):
    """Every tag with its attributes, the text, and the text inside <style> apart."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.style: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        super().handle_data(data)
        if self.open and self.open[-1] == "style":
            self.style.append(data)


_PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "b", "svg", "rect", "text", "g"}
_PAGE_TAGS |= {"table", "thead", "tbody", "tr", "th", "td", "code", "ul", "li"}


def _external_references(page: str, document: _Document) -> list[str]:
    found = [
        f"<{tag} {name}={value!r}>" for tag, attrs in document.tags for name, value in attrs.items() if name in ("src", "href", "srcset", "action", "data")
    ]
    found += [f"<{tag}> in the page" for tag, _attrs in document.tags if tag not in _PAGE_TAGS]
    found += [f"{rule} in <style>" for rule in ("@import", "url(", "//") if rule in "".join(document.style)]
    found += [f"http(s) attribute {name}={value!r}" for tag, attrs in document.tags for name, value in attrs.items()
              if name != "xmlns" and (value or "").lower().lstrip().startswith(("http:", "https:", "//"))]  # fmt: skip
    return found


def test_the_page_is_self_contained_and_escapes_every_hostile_field() -> None:
    report = _hostile_report()
    page = render_filter.pip_cache_report_render(report, "html")
    document = _Document()
    document.feed(page)
    document.close()
    assert not _external_references(page, document), _external_references(page, document)
    assert [tag for tag, _attrs in document.tags].count("script") == 0 and "<script>" not in page and "<link " not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;link href=" in page
    # Each hostile value comes back whole as the page's text (escaped, never cut or turned into markup).
    text = "".join(document.text)
    for value in ("h", "u", "/tmp/d", "src", "v", "why", "msg", "gen"):
        assert value + _HOSTILE in text, value
    assert "failed: msg" + _HOSTILE in text
    # ... and as an attribute value the quotes cannot close.
    bars = [attrs for tag, attrs in document.tags if tag == "g"]
    assert [attrs["data-host"] for attrs in bars] == ["h" + _HOSTILE], bars


def test_a_benign_page_has_no_external_reference_either() -> None:
    results, hosts = _fleet()
    page = render_filter.pip_cache_report_render(report_filter.pip_cache_report(results, hosts, top=2, generated="now"), "html")
    document = _Document()
    document.feed(page)
    assert not _external_references(page, document)
    assert "".join(document.style).strip().startswith("body {"), "the CSS is inline"
    assert not [line for line in page.splitlines() if "@import" in line or "src=" in line or "href=" in line]
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</body></html>\n") and "{{" not in page and "{%" not in page


def test_hostile_fields_cannot_break_the_text_formats() -> None:
    report = _hostile_report()
    table = render_filter.pip_cache_report_render(report, "table")
    assert "\nrow" not in table and "\\nrow" in table, table
    assert len(table.splitlines()) == 1 + 1 + 1 + 1 + 1 + 1 + 1, table  # headline, blank, header, row, total, disabled, no data
    markdown = render_filter.pip_cache_report_render(report, "markdown")
    tables = [block.splitlines() for block in markdown.split("\n\n") if block.startswith("| ")]
    assert len(tables) == 2, markdown
    for lines in tables:  # every row of a table has as many cells as its header: no pipe or newline starts a cell or a row
        assert len({line.replace("\\|", "").count("|") for line in lines}) == 1, lines
    assert len(tables[0]) == 2 + 2 and len(tables[1]) == 2 + 1, tables  # header, rule, the cache and the total; the host
    assert not [line for line in markdown.splitlines() if line.startswith("row")] and "\\|a,b row" in markdown
    records = list(csv.DictReader(io.StringIO(render_filter.pip_cache_report_render(report, "csv"))))
    assert [(row["state"], row["host"]) for row in records] == [("cache", "h" + _HOSTILE), ("disabled", "h" + _HOSTILE), ("no data", "g" + _HOSTILE)]
    assert records[0]["cache_dir"] == "/tmp/d" + _HOSTILE and records[0]["users"] == "u" + _HOSTILE and records[1]["reason"] == "why" + _HOSTILE
    assert json.loads(render_filter.pip_cache_report_render(report, "json"))["caches"][0]["cache_dir"] == "/tmp/d" + _HOSTILE


def test_each_file_exposes_its_own_filter() -> None:
    assert set(report_filter.FilterModule().filters()) == {"pip_cache_report"}
    assert set(render_filter.FilterModule().filters()) == {"pip_cache_report_render"}
    assert render_filter.FilterModule().filters()["pip_cache_report_render"] is render_filter.pip_cache_report_render
