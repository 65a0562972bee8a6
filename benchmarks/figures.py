"""Where the benchmark scripts put the figures the docs site shows, and how they save them.

Every figure of the site is made by a script, never copied by hand: the script saves it with
``save(fig, "name.png")`` into ``docs/images/`` (and, if it keeps results of its own, into its
results folder too), and the page that shows it gives the command that made it, beside it. The
convention is written down for contributors in ``docs/images/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS_IMAGES = ROOT / "docs" / "images"


def save(fig: Any, name: str, *also: Path) -> list[Path]:
    """Save the matplotlib figure ``fig`` as ``docs/images/<name>`` and as ``<folder>/<name>``
    for each folder of ``also``; returns the paths written.

    The PNG carries no software version or date, so the same figures give the same bytes and a
    re-run that changes nothing leaves git with nothing to commit.
    """
    paths = [DOCS_IMAGES / name, *(Path(folder) / name for folder in also)]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, metadata={"Software": None})
    return paths
