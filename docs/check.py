"""The docs site as a reader sees it, checked in a real browser.

    pip install -e ".[docs,docs-check]"      # + Debian's Chromium: apt-get install -y chromium
    python docs/check.py                     # build, serve, open every page, screenshots
    python docs/check.py --out /tmp/docs-check --site-dir /tmp/site --no-build

Builds the site (``mkdocs build --strict``) into a temporary folder, serves it on 127.0.0.1 (a
free port) the way a static host does (a missing path answers 404 with the site's ``404.html``),
and opens every page in headless Chromium, driven by Playwright (``executable_path``: Debian's
``/usr/bin/chromium``, or ``--chromium`` / ``$CHROMIUM``; no browser is downloaded), once at
1280x900 and once as a phone at 390x844. It fails on:

* a broken link: a link inside the site to a page or anchor that does not exist, or a link to a
  file of this repository (``<repo_url>/blob/main/<path>``) that is not in the work tree;
* a missing image, or any resource of the site answered with an error;
* a request to anything but 127.0.0.1 while a page loads (fonts, scripts, APIs: every one is
  blocked and counted);
* an API signature wider than its box at 1280 px (on the phone a signature may scroll sideways);
* a code block, signature, table or other box whose content is wider than the box and cannot be
  scrolled (cut off, or spilling out of the text column), and a page wider than the screen;
* a name in a table's code cell or in a heading broken across lines inside a word
  (``EntityNotFoun|dException``);
* a copy button over an output block (``text``, ``console``, ``log``, ``pycon`` code blocks);
* site search that does not answer (typed into the search box, at both sizes, and the first hit
  opened);
* a 404 page that is unstyled, has broken links or a search that does not answer, served from
  the root, from the path of ``site_url`` and from another folder.

Other findings are printed as notes: code blocks that scroll sideways, code names broken inside a
word in running text on the phone, links outside the site (listed, not fetched: this check never
leaves the machine).

Full-page screenshots of every page at both sizes, the search results and the 404 pages go to
``--out`` (default ``build/docs-check/``, ignored by git), with ``report.json``: every finding by
page. Exit status 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html.parser
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
# What the probe of this machine needed: no sandbox as root, and none of Chromium's own calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT_LANGUAGES = ("text", "console", "log", "pycon")
SEARCH_QUERY = "throttling"


# --- serving ------------------------------------------------------------------------------------


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves ``directory`` under ``prefix``, answering missing paths with ``404.html``."""

    prefix = "/"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def translate_path(self, path: str) -> str:
        path = urllib.parse.urlsplit(path).path
        if not path.startswith(self.prefix):
            return os.path.join(self.directory, "-outside-the-prefix-")  # never exists
        return super().translate_path("/" + path[len(self.prefix) :])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory, "404.html")
        if code != HTTPStatus.NOT_FOUND or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser hung up: fine
            super().handle_error(request, client_address)


@contextmanager
def serve(site: Path, prefix: str = "/") -> Iterator[str]:
    """The site served on a free 127.0.0.1 port under ``prefix``; yields its root URL."""
    handler = type("Handler", (SiteHandler,), {"prefix": prefix})
    server = QuietServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as e:
        return e.code


class _Ids(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value or "")


@functools.cache
def anchors_of(url: str) -> frozenset[str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        parser = _Ids()
        parser.feed(reply.read().decode("utf-8", "replace"))
    return frozenset(parser.ids)


# --- what the browser measures ------------------------------------------------------------------

# Runs in each page once it has loaded (Material's scripts have added copy buttons and wrapped the
# tables). Returns everything the checks below judge.
MEASURE = r"""
(outputLanguages) => {
  const article = document.querySelector("article") || document.body;
  // The text column: Material lets tables and code blocks reach into the article's margins.
  const box = (article.closest(".md-content") || article).getBoundingClientRect();
  const label = (el) => {
    const text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ");
    return text.length > 90 ? text.slice(0, 87) + "..." : text;
  };
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const wider = (el) => el.scrollWidth > el.clientWidth + 1;
  const clippedBy = (el) => {  // the nearest ancestor inside the article that clips or scrolls
    for (let up = el.parentElement; up && up !== article; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return up;
    }
    return null;
  };
  // Where a line break falls between two word characters inside one element's text.
  const midWordBreaks = (el, block = false) => {
    if (!block && el.getClientRects().length < 2) return [];
    const found = [];
    const range = document.createRange();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let prevTop = null, prevChar = "", before = "";
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent;
      for (let i = 0; i < text.length; i++) {
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rects = range.getClientRects();
        if (!rects.length) {  // collapsed white space, say: a break there is fine
          prevChar = text[i];
          before += text[i];
          continue;
        }
        const top = rects[0].top;
        if (prevTop !== null && top > prevTop + 2 && /\w/.test(prevChar) && /\w/.test(text[i])) {
          found.push((before + "|" + el.textContent.slice(before.length)).trim());
        }
        prevTop = top;
        prevChar = text[i];
        before += text[i];
      }
    }
    return found;
  };

  const result = {
    title: document.title,
    pageWidth: document.scrollingElement.scrollWidth,
    screenWidth: window.innerWidth,
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    images: [...document.images].map((img) => ({
      src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0,
      alt: img.alt,
    })),
    signatures: [], codeBlocks: [], spills: [], tableBreaks: [], proseBreaks: [],
    copyOnOutput: [], copyButtons: 0, headingBreaks: [],
  };
  for (const sig of document.querySelectorAll(".doc-signature")) {
    const code = sig.querySelector("pre > code") || sig;
    result.signatures.push({
      text: label(code), wider: wider(code), scrolls: scrolls(code),
      width: code.scrollWidth, box: code.clientWidth,
    });
  }
  for (const code of article.querySelectorAll("pre > code")) {
    if (code.closest(".doc-signature")) continue;
    const pre = code.parentElement;
    const language = [...(pre.closest("[class*='language-']") || pre).classList, ...code.classList]
      .map((c) => c.replace(/^language-/, "")).find((c) => outputLanguages.includes(c)) || null;
    result.codeBlocks.push({
      text: label(code), wider: wider(code), scrolls: scrolls(code),
      width: code.scrollWidth, box: code.clientWidth,
    });
    const copy = pre.parentElement.querySelector("[data-md-type='copy'], .md-clipboard");
    if (copy) result.copyButtons += 1;
    if (language && copy) {
      result.copyOnOutput.push({language, text: label(code)});
    }
  }
  // Content that spills out of the text column without a box that scrolls or clips it.
  for (const el of article.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= box.right + 1) continue;
    if (clippedBy(el)) continue;
    if (el.parentElement && el.parentElement !== article &&
        el.parentElement.getBoundingClientRect().right > box.right + 1 &&
        !clippedBy(el.parentElement)) continue;  // its parent is reported
    result.spills.push({
      tag: el.tagName.toLowerCase(), text: label(el), overBy: Math.round(r.right - box.right),
    });
  }
  // Boxes that cut their content off: overflow hidden or clip, content wider.
  for (const el of article.querySelectorAll("*")) {
    const o = getComputedStyle(el).overflowX;
    if ((o === "hidden" || o === "clip") && wider(el) && el.clientWidth > 0) {
      result.spills.push({tag: el.tagName.toLowerCase(), text: label(el),
        overBy: el.scrollWidth - el.clientWidth, clipped: true});
    }
  }
  for (const code of article.querySelectorAll("td code, th code")) {
    for (const at of midWordBreaks(code)) result.tableBreaks.push(at);
  }
  for (const heading of article.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    for (const at of midWordBreaks(heading, true)) result.headingBreaks.push(at);
  }
  for (const code of article.querySelectorAll(":not(pre) > code")) {
    if (code.closest("td, th")) continue;
    for (const at of midWordBreaks(code)) result.proseBreaks.push(at);
  }
  return result;
}
"""

# How the page's look is judged on the 404 page: the theme's stylesheet applied.
STYLED = """() => {
  const header = document.querySelector(".md-header");
  return !!header && getComputedStyle(header).position === "sticky" &&
    getComputedStyle(document.body).display !== "inline";
}"""


# --- the run ------------------------------------------------------------------------------------


class Findings:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.counts: Counter[str] = Counter()
        self.pages: dict[str, dict[str, Any]] = defaultdict(dict)
        self.external: Counter[str] = Counter()

    def fail(self, kind: str, message: str, n: int = 1) -> None:
        self.counts[kind] += n
        self.failures.append(message)

    def note(self, kind: str, message: str, n: int = 1) -> None:
        self.counts[kind] += n
        self.notes.append(message)


def site_pages(site: Path) -> list[str]:
    """Each page's path under the site's root (``""`` for the home page)."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if rel == "404.html" or rel.startswith("assets/"):
            continue
        pages.append(rel.removesuffix("index.html"))
    return pages


def slug(page: str) -> str:
    return page.strip("/").replace("/", "_") or "home"


def repo_file_links(config: dict[str, Any]) -> tuple[str, ...]:
    repo = str(config.get("repo_url", "")).rstrip("/")
    return (f"{repo}/blob/main/", f"{repo}/tree/main/") if repo else ()


def open_page(context: Any, url: str, findings: Findings, where: str) -> tuple[Any, Any]:
    """A new page of ``context`` at ``url``; requests leaving 127.0.0.1 are blocked and counted."""
    page = context.new_page()
    origin = urllib.parse.urlsplit(url)
    local = f"{origin.scheme}://{origin.netloc}/"

    def route(route: Any) -> None:
        request_url = route.request.url
        if request_url.startswith((local, "data:", "blob:")):
            route.continue_()
            return
        host = urllib.parse.urlsplit(request_url).netloc or request_url[:40]
        findings.external[host] += 1
        findings.fail("external requests", f"{where}: loads {request_url} (blocked)")
        route.abort()

    def response(reply: Any) -> None:
        if reply.request.method == "HEAD":  # the 404 page asking where the site's root is
            return
        if reply.status >= 400 and reply.url != url and reply.url.startswith(local):
            findings.fail("failed resources", f"{where}: {reply.url} answered {reply.status}")

    def failed(request: Any) -> None:
        if request.url.startswith(local):
            findings.fail("failed resources", f"{where}: {request.url} failed: {request.failure}")

    page.route("**/*", route)
    page.on("response", response)
    page.on("requestfailed", failed)
    reply = page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, reply


def check_pages(
    browser: Any,
    base: str,
    pages: list[str],
    out: Path,
    findings: Findings,
    repo_links: tuple[str, ...],
) -> None:
    links: dict[str, set[str]] = defaultdict(set)  # link -> pages it is on
    for name, options in VIEWPORTS.items():
        context = browser.new_context(**options)
        (out / name).mkdir(parents=True, exist_ok=True)
        for path in pages:
            where = f"{name} /{path}"
            page, reply = open_page(context, base + path, findings, where)
            if reply is None or reply.status != 200:
                findings.fail("broken pages", f"{where}: answered {reply and reply.status}")
            m = page.evaluate(MEASURE, list(OUTPUT_LANGUAGES))
            page.screenshot(path=str(out / name / f"{slug(path)}.png"), full_page=True)
            page.close()
            findings.pages[path][name] = m
            for link in m["links"]:
                links[link].add(f"/{path}")
            for img in m["images"]:
                if not img["ok"]:
                    findings.fail("missing images", f"{where}: image {img['src']} did not load")
            if m["pageWidth"] > m["screenWidth"] + 1:
                findings.fail(
                    "pages wider than the screen",
                    f"{where}: the page is {m['pageWidth']} px wide "
                    f"on a {m['screenWidth']} px screen",
                )
            for sig in m["signatures"]:
                if not sig["wider"]:
                    continue
                text = (
                    f"{where}: signature {sig['width']} px in a {sig['box']} px box: {sig['text']}"
                )
                if name == "desktop" or not sig["scrolls"]:
                    findings.fail("signatures wider than their box", text)
                else:
                    findings.note("signatures that scroll (phone)", text)
            for block in m["codeBlocks"]:
                if not block["wider"]:
                    continue
                text = (
                    f"{where}: code {block['width']} px in a {block['box']} px box: {block['text']}"
                )
                if block["scrolls"]:
                    findings.note(f"code blocks that scroll ({name})", text)
                else:
                    findings.fail("code blocks cut off", text)
            for spill in m["spills"]:
                how = "cut off" if spill.get("clipped") else "spills out of the text column"
                findings.fail(
                    "boxes cut off or spilling",
                    f"{where}: <{spill['tag']}> {how} by {spill['overBy']} px: {spill['text']}",
                )
            for at in m["tableBreaks"]:
                findings.fail("names broken in tables", f"{where}: table cell code broken: {at}")
            for at in m["headingBreaks"]:
                findings.fail("names broken in headings", f"{where}: heading broken: {at}")
            for at in m["proseBreaks"]:
                findings.note(f"names broken in running text ({name})", f"{where}: {at}")
            if name == "desktop":
                findings.counts["copy buttons"] += m["copyButtons"]
                for block in m["copyOnOutput"]:
                    findings.fail(
                        "copy buttons on output",
                        f"/{path}: a copy button on a {block['language']} block: {block['text']}",
                    )
        context.close()

    origin = urllib.parse.urlsplit(base)
    local = f"{origin.scheme}://{origin.netloc}/"
    for link, on in sorted(links.items()):
        shown = f"{link} (on {', '.join(sorted(on)[:3])}{', ...' if len(on) > 3 else ''})"
        findings.counts["links checked"] += 1
        if link.startswith(local):
            target, _, anchor = link.partition("#")
            status = fetch_status(target)
            if status != 200:
                findings.fail("broken links", f"{shown}: answered {status}")
            elif anchor and urllib.parse.unquote(anchor) not in anchors_of(target):
                findings.fail("broken links", f"{shown}: no #{anchor} on that page")
        elif link.startswith(repo_links):
            rel = link.split("/main/", 1)[1].split("#")[0].split("?")[0]
            if not (ROOT / rel).exists():
                findings.fail("broken links", f"{shown}: {rel} is not in the repository")
            else:
                findings.counts["repository links"] += 1
        elif link.startswith(("http://", "https://")):
            findings.note("links outside the site (not fetched)", shown)


def search(page: Any, phone: bool, screenshot: Path) -> tuple[int, str, str]:
    """Types the query into the site's search on ``page`` and opens the first hit: (hits, the
    results' status line, the address opened). Raises when search does not answer."""
    if phone:
        page.click("label.md-header__button[for='__search']")
    page.click("input.md-search__input")
    page.keyboard.type(SEARCH_QUERY, delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=10_000)
    meta = page.inner_text(".md-search-result__meta")
    hits = page.locator(".md-search-result__item").count()
    page.screenshot(path=str(screenshot))
    first = page.locator(".md-search-result__link").first
    href = first.evaluate("a => a.href")
    first.click()
    page.wait_for_load_state("load")
    target = page.url
    status = fetch_status(target.partition("#")[0])
    if target != href:
        raise RuntimeError(f"the first hit {href} opened {target}")
    if status != 200:
        raise RuntimeError(f"the first hit {href} answered {status}")
    return hits, meta, target


def check_search(browser: Any, base: str, out: Path, findings: Findings) -> None:
    for name, options in VIEWPORTS.items():
        context = browser.new_context(**options)
        where = f"{name} search"
        page, _ = open_page(context, base, findings, where)
        try:
            hits, meta, target = search(page, name == "phone", out / name / "search.png")
            findings.counts[f"search hits ({name})"] = hits
            findings.pages["(search)"][name] = {
                "query": SEARCH_QUERY,
                "meta": meta,
                "hits": hits,
                "first": target,
            }
        except Exception as e:  # any failure of the search is the finding
            findings.fail("search broken", f"{where}: {search_failure(page, e)}")
        page.close()
        context.close()


def search_failure(page: Any, e: Exception) -> str:
    meta = ""
    with contextlib.suppress(Exception):
        meta = page.inner_text(".md-search-result__meta", timeout=1_000)
    return f"no result for {SEARCH_QUERY!r} ({meta or 'no status'}): {str(e).splitlines()[0]}"


def check_404(browser: Any, site: Path, roots: list[str], out: Path, findings: Findings) -> None:
    context = browser.new_context(**VIEWPORTS["desktop"])
    for prefix in roots:
        with serve(site, prefix) as base:
            url = base + "no/such/page/"
            where = f"404 from {prefix}"
            page, reply = open_page(context, url, findings, where)
            status = reply.status if reply else None
            styled = page.evaluate(STYLED)
            links = page.evaluate(
                "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"
            )
            page.screenshot(path=str(out / "desktop" / f"404-{slug(prefix)}.png"))
            try:
                search(page, False, out / "desktop" / f"404-{slug(prefix)}-search.png")
            except Exception as e:
                findings.fail("404 page", f"{where}: search: {search_failure(page, e)}")
            page.close()
            origin = base.removesuffix(prefix) + "/"
            broken = [
                link
                for link in links
                if link.startswith(origin) and fetch_status(link.partition("#")[0]) != 200
            ]
            findings.pages["(404)"][prefix] = {"status": status, "styled": styled, "broken": broken}
            if status != 404:
                findings.fail("404 page", f"{where}: answered {status}")
            if not styled:
                findings.fail("404 page", f"{where}: the page is unstyled")
            for link in broken:
                findings.fail("404 page", f"{where}: broken link {link}")
            findings.counts["404 roots checked"] += 1
    context.close()


def build(site: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True, env=env)


def load_config() -> dict[str, Any]:
    # Only the keys this check reads; mkdocs.yml has !!python tags that safe_load would refuse.
    config: dict[str, Any] = {}
    for line in (ROOT / "mkdocs.yml").read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("site_url", "repo_url"):
            config[key] = value.strip()
    return config


def summary(findings: Findings, pages: list[str]) -> str:
    c = findings.counts
    lines = [
        f"pages: {len(pages)}, each at 1280x900 and 390x844",
        f"links checked: {c['links checked']} ({c['repository links']} to repository files); "
        f"broken: {c['broken links']}",
        f"missing images: {c['missing images']}; failed resources: {c['failed resources']}",
        f"signatures wider than their box: {c['signatures wider than their box']} "
        f"(and {c['signatures that scroll (phone)']} that scroll sideways on the phone)",
        f"code blocks cut off: {c['code blocks cut off']}; that scroll sideways: "
        f"{c['code blocks that scroll (desktop)']} at 1280, {c['code blocks that scroll (phone)']} "
        "on the phone",
        f"boxes cut off or spilling out of the text: {c['boxes cut off or spilling']}; "
        f"pages wider than the screen: {c['pages wider than the screen']}",
        f"names broken inside a word in tables: {c['names broken in tables']}; in headings: "
        f"{c['names broken in headings']}; in running text: "
        f"{c['names broken in running text (desktop)']} at 1280, "
        f"{c['names broken in running text (phone)']} on the phone",
        f"copy buttons: {c['copy buttons']}, on output blocks: {c['copy buttons on output']}",
        f"external requests (blocked): {c['external requests']}"
        + (
            f" to {', '.join(f'{h} ({n})' for h, n in findings.external.most_common())}"
            if findings.external
            else ""
        ),
        f"search: {'broken' if c['search broken'] else 'works'} "
        f"({c['search hits (desktop)']} hits for {SEARCH_QUERY!r} at 1280, "
        f"{c['search hits (phone)']} on the phone)",
        f"404 page: {c['404 page']} problems, served from {c['404 roots checked']} roots",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "docs-check")
    parser.add_argument("--site-dir", type=Path, help="build into (or with --no-build, check) this")
    parser.add_argument("--no-build", action="store_true", help="check --site-dir as it is")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    if args.no_build and not args.site_dir:
        parser.error("--no-build needs --site-dir")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is not installed: pip install -e '.[docs,docs-check]'", file=sys.stderr)
        return 2
    if not Path(args.chromium).exists():
        print(
            f"no Chromium at {args.chromium}: apt-get install -y chromium (or --chromium PATH)",
            file=sys.stderr,
        )
        return 2

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="docs-site-") as scratch:
        site = args.site_dir or Path(scratch) / "site"
        if not args.no_build:
            build(site)
        config = load_config()
        configured = urllib.parse.urlsplit(config.get("site_url", "")).path or "/"
        roots = list(dict.fromkeys(["/", configured, "/mirror/docs/"]))
        pages = site_pages(site)
        out = args.out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        findings = Findings()
        with sync_playwright() as playwright, serve(site) as base:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            print(f"checking {len(pages)} pages served at {base} in {browser.version}", flush=True)
            check_pages(browser, base, pages, out, findings, repo_file_links(config))
            check_search(browser, base, out, findings)
            check_404(browser, site, roots, out, findings)
            browser.close()

    report = {
        "summary": dict(findings.counts),
        "external_hosts": dict(findings.external),
        "failures": findings.failures,
        "notes": findings.notes,
        "pages": findings.pages,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    for note in findings.notes:
        print("note:", note)
    for failure in findings.failures:
        print("FAIL:", failure)
    print()
    print(summary(findings, pages))
    print(f"\nscreenshots and report.json: {out} ({time.monotonic() - started:.0f} s)")
    print("FAILED" if findings.failures else "passed")
    return 1 if findings.failures else 0


if __name__ == "__main__":
    sys.exit(main())
