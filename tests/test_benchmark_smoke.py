"""``benchmarks/run.py --quick`` runs end to end and reports sane figures (no timing thresholds).

One quick run covers every part over plain HTTP and TLS (a ``trustme`` CA, trusted by each client
the way the harness sets it up) and the three OpenTelemetry variants. The aiobotocore leg runs
when aiobotocore is installed (the ``bench`` extra) and is skipped by the script otherwise; the
plot needs matplotlib, the TLS leg trustme and the OpenTelemetry table the SDK, likewise.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_quick_benchmark_runs_and_reports_sane_numbers(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            # Replies held 2 s (not 0.5): 1,000 calls all start before the first reply even on
            # a CI machine running other jobs beside this one (936 of 1,000 did at 0.5 s).
            "--inflight-latency",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    settings = report["settings"]
    expected = {"aioglue", "floor"} | ({"aiobotocore"} if installed("aiobotocore") else set())
    assert set(report["clients"]) == expected
    transports = {"plain"} | ({"tls"} if installed("trustme") else set())
    assert set(settings["transports"]) == transports

    for transport in transports:
        by_c = report["throughput"][transport]
        assert set(by_c) == {str(c) for c in settings["concurrency"]} | {
            str(c) for c in settings["sweep"]
        }
        for c, by_kind in by_c.items():
            assert set(by_kind) == expected, (transport, c)
            for kind, figures in by_kind.items():
                where = (transport, c, kind, figures)
                assert 1 < figures["cpu_us_per_lookup"] < 100_000, where
                assert figures["lookups_per_s"] > 1, where
                assert 0 <= figures["max_stall_ms"] < 60_000, where
        for kind in expected:
            inflight = report["inflight"][transport][kind]
            assert 10 < inflight["peak_rss_mib"] < 4096, (transport, kind, inflight)
            # The in-flight run really had every lookup in flight at once.
            assert inflight["peak_in_flight"] == settings["inflight"], (transport, kind)
            cold = report["cold"][transport][kind]
            assert 0 < cold["cold_start_ms"] < 60_000, (transport, kind, cold)

    assert set(report["import"]) == expected | {"aioglue-nootel"}
    for figures in report["import"].values():
        assert figures["import_cpu_ms"] > 0 and 0 < figures["import_ms"] < 60_000, figures
    assert len(settings["load_average_1min"]) == settings["repeat"] + 1

    if installed("opentelemetry.sdk"):
        otel = report["otel"]
        assert set(otel) == {"aioglue-nootel", "aioglue", "aioglue-otelsdk"}
        assert all(1 < figures["cpu_us_per_lookup"] < 100_000 for figures in otel.values())
        assert otel["aioglue-otelsdk"]["spans_exported"] >= 0

    # Every target is judged (PASS or FAIL), except those needing a leg that was skipped.
    verdicts = [target["pass"] for target in report["targets"]]
    if expected == {"aioglue", "aiobotocore", "floor"} and transports == {"plain", "tls"}:
        assert None not in verdicts
    assert "Targets (this run's medians):" in done.stdout

    table = (tmp_path / "latest.md").read_text()
    assert "| CPU per lookup (µs), C=64, plain HTTP |" in table and "ours / floor" in table
    assert "| CPU per lookup (µs), C=64, plain HTTP |" in done.stdout
    if "tls" in transports:
        assert "| CPU per lookup (µs), C=16, TLS |" in table
        assert "cold start: import + client + 1st lookup, TLS (ms)" in table
    if installed("opentelemetry.sdk"):
        assert "OpenTelemetry overhead" in table
    if installed("matplotlib"):
        assert (tmp_path / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quick_rate_control_benchmark_compares_the_four_modes(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "adaptive.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "adaptive.json").read_text())
    assert set(report["results"]) == {"steady", "stepped"}
    for scenario, by_mode in report["results"].items():
        assert set(by_mode) == {"standard", "adaptive", "auto", "fixed"}, scenario
        for mode, figures in by_mode.items():
            phases = figures["phases"]
            assert len(phases) == (1 if scenario == "steady" else 3), (scenario, mode)
            for phase in phases:
                assert 0 < phase["goodput_ratio"] < 2, (scenario, mode, phase)
                assert 0 <= phase["throttled_share"] <= 1, (scenario, mode, phase)
            assert figures["failed_other"] == 0, (scenario, mode)
    # Standard retries are throttled hard; the learned rate is not (the figures of a quick run
    # mean little, but this much holds even there).
    standard = report["results"]["steady"]["standard"]["phases"][0]["throttled_share"]
    auto = report["results"]["steady"]["auto"]["phases"][0]["throttled_share"]
    assert standard > 0.1 and auto < standard
    assert '| 150/s (steady) | `max_rate="auto"` |' in (tmp_path / "adaptive.md").read_text()
    if installed("matplotlib"):
        assert (tmp_path / "adaptive-rate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_watch_benchmark_runs_and_reports_sane_numbers(tmp_path: Path) -> None:
    args = ["--sessions", "100", "--max-rate", "50", "--interval", "0.5", "--duration", "24"]
    args += ["--scale", "500", "--polls", "2000", "--repeat", "1", "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "watch.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "watch.json").read_text())
    timeline = report["timeline"]
    for key in ("round_robin", "watch"):
        figures = timeline[key]
        assert figures["detected"] == figures["changes"] == 10, figures["name"]
        assert 0 <= figures["p50"] <= figures["p95"] <= figures["max"] < 24
        assert figures["over_budget"] <= 0  # never above the budget
        assert 20 * 50 < figures["requests"] <= 24 * 50 + 50
    assert timeline["watch"]["longest_gap"] <= timeline["watch"]["gap_bound"]
    [row] = report["scale"]
    assert row["ids"] == 500 and 1 < row["bare_us"] < 10_000 and 1 < row["watch_us"] < 10_000
    assert 0 < row["beyond_session"] < 2048 and row["session"] > 0
    assert "Watch / round-robin:" in (tmp_path / "watch.md").read_text()
    if installed("matplotlib"):
        assert (tmp_path / "watch-detection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
