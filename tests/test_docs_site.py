"""The docs site's sources keep what docs/check.py found right in the browser.

These read the Markdown and mkdocs.yml only (no mkdocs, no browser), so they run with the test
extras; docs/check.py is the check in a real browser.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(
    path
    for path in DOCS.rglob("*.md")
    if "overrides" not in path.parts and path.name != "README.md"
)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", text, re.S)


def test_the_home_page_gives_the_install_line_and_the_readmes_two_commands_exactly() -> None:
    readme_top = (ROOT / "README.md").read_text().split("\n---\n")[0]
    readme_commands = bash_blocks(readme_top)
    assert len(readme_commands) == 2  # try it (demo), run the tests
    home = bash_blocks((DOCS / "index.md").read_text())
    assert home[:3] == ["pip install aioglue-session", *readme_commands]


def test_every_figure_is_in_docs_images_made_by_a_script_with_the_command_beside_it() -> None:
    shown = set()
    for page in PAGES:
        text = page.read_text()
        for match in IMAGE.finditer(text):
            image = (page.parent / match.group(1)).resolve()
            assert image.is_file(), f"{page.name}: {match.group(1)} does not exist"
            assert image.parent == DOCS / "images", f"{page.name}: {image} not in docs/images/"
            shown.add(image.name)
            after = text[match.end() : match.end() + 600]
            commands = bash_blocks(after)
            assert commands and "benchmarks/" in commands[0], f"no command beside {image.name}"
            script = re.search(r"benchmarks/\w+\.py", commands[0])
            assert script and (ROOT / script.group(0)).is_file()
            assert image.name in (ROOT / script.group(0)).read_text() or (
                script.group(0) == "benchmarks/run.py"
            ), f"{script.group(0)} does not name {image.name}"
    on_disk = {path.name for path in (DOCS / "images").glob("*.png")}
    assert shown == on_disk  # no figure unused, none missing
    convention = (DOCS / "images" / "README.md").read_text()
    assert all(f"`{name}`" in convention for name in on_disk)


def test_repository_links_point_at_files_that_exist() -> None:
    repo = re.search(r"^repo_url: (\S+)", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert repo
    links = [
        (page.name, link)
        for page in PAGES
        for link in re.findall(
            re.escape(repo.group(1)) + r"/blob/main/([^\s)#]+)", page.read_text()
        )
    ]
    assert {"examples/bulk_lookup.py", "examples/watch_bot.py", "examples/web_service.py"} <= {
        link for _, link in links
    }
    for page, link in links:
        assert (ROOT / link).is_file(), f"{page}: {link}"


def test_no_font_service_and_output_blocks_have_no_copy_button() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^  font: false$", config, re.M)
    for page in PAGES:
        fences = re.findall(r"^```(.*)$", page.read_text(), re.M)
        for fence in fences:
            if re.search(r"\b(text|console)\b", fence):
                assert ".no-copy" in fence, f"{page.name}: {fence!r} has a copy button"


@pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.sdk") is None, reason="needs opentelemetry-sdk"
)
async def test_the_trace_picture_records_the_throttled_bulk_run() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import trace_picture
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    spans = await trace_picture.record()
    root, lookups = trace_picture.ordered(spans)
    assert root.name == "nightly-report"
    assert len(lookups) == 6
    assert {s.parent.span_id for s in lookups} == {root.context.span_id}
    retries = [e.attributes["error.type"] for s in lookups for e in s.events if e.name == "retry"]
    assert sorted(retries) == ["ServiceUnavailableException"] + ["ThrottlingException"] * 3
    failed = [s for s in lookups if s.status.status_code.name == "ERROR"]
    assert [s.attributes["error.type"] for s in failed] == ["EntityNotFoundException"]
    text = trace_picture.render_text(spans)
    assert text.count("Glue.GetSession") == 6
    assert "HTTP 400 EntityNotFoundException" in text
