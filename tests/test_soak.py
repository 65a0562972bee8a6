"""The soak (benchmarks/soak.py), scaled down to 10,000 lookups for CI.

One client, bulk lookups against the fault server in its own process with 5% throttles and 1%
connection resets: every id answered exactly once, the faults retried away, memory flat.
``AIOGLUE_SOAK_LOOKUPS`` runs it bigger.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from soak import soak

LOOKUPS = int(os.environ.get("AIOGLUE_SOAK_LOOKUPS", "10000"))


async def test_soak_loses_nothing_and_memory_stays_flat() -> None:
    report = await soak(
        LOOKUPS, concurrency=64, throttle=0.05, reset=0.01, trace=True, seed=2, batch_size=500
    )

    # Every id answered exactly once; every 1,000th id is invalid and refused before sending.
    assert report["answered"] == LOOKUPS
    assert report["ids_lost"] == 0
    assert report["duplicates"] == 0
    invalid = LOOKUPS // 1000
    outcomes = dict(report["outcomes"])
    assert outcomes.pop("invalid id refused") == invalid
    ok = outcomes.pop("ok")
    # A lookup fails only when one id meets a fault on all 5 attempts (p ~ 1e-6 per id at a 6%
    # fault rate): allowed, as a typed error saying so, and rare.
    failed = sum(outcomes.values())
    assert ok + failed == LOOKUPS - invalid
    assert set(outcomes) <= {"failed: ThrottlingException", "failed: ConnectionClosedError"}
    assert failed <= 2, report["failures"]

    # The faults really happened and each was ridden through with one retry (except the last
    # fault of a failed lookup); ids met several faults in a row and still came through.
    faults = report["faults_injected"]
    assert faults["throttles"] > LOOKUPS * 0.03
    assert faults["resets"] > LOOKUPS * 0.004
    assert report["retries"] == faults["throttles"] + faults["resets"] - failed
    assert report["most_faults_one_id_met"] >= 2
    assert report["requests_served"] == LOOKUPS - invalid + report["retries"]
    assert report["retry_quota_left"] == 500  # refunded on success, as in botocore

    # Memory flat after warm-up: last quarter vs. first, by RSS and by tracemalloc. (Absolute
    # slack: at this scale the traced heap is a few hundred KiB, so 5% is tens of KiB.)
    assert report["memory_samples"] >= 16
    first_rss, last_rss = report["rss_mib_first_last_quarter"]
    assert last_rss - first_rss < max(0.05 * first_rss, 2.0), report
    first_kib, last_kib = report["tracemalloc_kib_first_last_quarter"]
    assert last_kib - first_kib < max(0.05 * first_kib, 64), report
