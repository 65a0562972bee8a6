"""What the pytest plugin (``glue_mock``, ``glue_local``) adds to pytest's start-up.

    python benchmarks/plugin_startup.py [--rounds 21]

Two measurements, each in fresh processes:

* **pytest start-up**: ``python -m pytest --collect-only -q`` over a folder with one trivial
  test, with the plugin loaded (as every suite on a machine with the package installed loads it)
  and with ``-p no:aioglue_session``, the two runs interleaved in each round; medians of the wall
  and CPU time (user + system, of the child) and their differences. On a shared machine the
  differences are within the noise of a ~1 s start-up; the second figure is the precise one.
* **the plugin's own import**: ``python -X importtime`` of ``pytest_aioglue_session`` after
  ``pytest`` and ``pytest_asyncio`` (which pytest has loaded by then): its cumulative import
  time, median over the rounds, and every module the import added.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = (
    "import sys, pytest, pytest_asyncio; before = set(sys.modules); "
    "import pytest_aioglue_session; print(sorted(set(sys.modules) - before))"
)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pytest_start(folder: Path, *extra: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ``pytest --collect-only`` in a fresh process."""
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
        cwd=folder,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return time.perf_counter() - started, children_cpu() - cpu


def plugin_import_us() -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE],
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(
        x for x in done.stderr.splitlines() if x.rstrip().endswith("pytest_aioglue_session")
    )
    return int(line.split("|")[1]), done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_one.py").write_text("def test_one():\n    pass\n")
        (folder / "pytest.ini").write_text("[pytest]\n")
        pytest_start(folder)  # warm the file cache
        with_plugin, without = [], []
        for _ in range(args.rounds):
            with_plugin.append(pytest_start(folder))
            without.append(pytest_start(folder, "-p", "no:aioglue_session"))
    imports = [plugin_import_us() for _ in range(args.rounds)]
    added = imports[0][1]
    print(f"pytest --collect-only, {args.rounds} interleaved rounds (medians, wall / CPU):")
    for i, what in ((0, "wall"), (1, "CPU")):
        median_with = statistics.median(x[i] for x in with_plugin)
        median_without = statistics.median(x[i] for x in without)
        print(
            f"  {what:>4}: with the plugin {median_with * 1000:7.1f} ms, "
            f"-p no:aioglue_session {median_without * 1000:7.1f} ms, "
            f"difference {(median_with - median_without) * 1000:+6.1f} ms"
        )
    import_ms = statistics.median(us for us, _ in imports) / 1000
    print(f"import pytest_aioglue_session (after pytest): {import_ms:.2f} ms median")
    print(f"  modules it added: {added}")


if __name__ == "__main__":
    main()
