"""``benchmarks/run.py --quick`` runs end to end and reports sane figures (no timing thresholds).

The aiobotocore leg runs when aiobotocore is installed (the ``bench`` extra) and is skipped by the
script otherwise; the plot needs matplotlib, likewise.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_and_reports_sane_numbers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    has_aiobotocore = importlib.util.find_spec("aiobotocore") is not None
    expected = {"aioglue", "floor"} | ({"aiobotocore"} if has_aiobotocore else set())
    assert set(report["clients"]) == expected
    settings = report["settings"]
    for kind, figures in report["clients"].items():
        assert 1 < figures["cpu_us_per_lookup"] < 100_000, (kind, figures)
        assert figures["lookups_per_s"] > 1, (kind, figures)
        assert 10 < figures["peak_rss_mib_inflight"] < 4096, (kind, figures)
        assert 0 < figures["cold_start_ms"] < 60_000, (kind, figures)
        assert 0 <= figures["max_stall_ms"] < 60_000, (kind, figures)
        # The in-flight run really had every lookup in flight at once.
        assert figures["peak_in_flight"] == settings["inflight"], (kind, figures)
    for kind in expected:
        assert set(report["sweep"][kind]) == {str(c) for c in settings["sweep"]}
        assert all(rate > 0 for rate in report["sweep"][kind].values())
    table = (tmp_path / "latest.md").read_text()
    assert "| CPU per lookup (µs) |" in table and "ours / floor" in table
    assert "| CPU per lookup (µs) |" in done.stdout
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
