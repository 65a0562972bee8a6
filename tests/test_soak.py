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
    report = await soak(LOOKUPS, concurrency=64, throttle=0.05, reset=0.01, trace=True)

    # Every id answered exactly once; every 1,000th id is invalid and refused, the rest succeed
    # (a fault only fails a lookup after 5 attempts, which at 6% fault rate is ~1e-6 per id).
    assert report["answered"] == LOOKUPS
    assert report["ids_lost"] == 0
    assert report["duplicates"] == 0
    invalid = LOOKUPS // 1000
    assert report["outcomes"]["invalid id refused"] == invalid
    assert report["outcomes"]["ok"] == LOOKUPS - invalid, report["outcomes"]

    # The faults really happened and were ridden through with retries.
    faults = report["faults_injected"]
    assert faults["throttles"] > LOOKUPS * 0.03
    assert faults["resets"] > LOOKUPS * 0.004
    assert report["retries"] == faults["throttles"] + faults["resets"]
    assert report["requests_served"] == LOOKUPS - invalid + report["retries"]
    assert report["retry_quota_left"] == 500  # refunded on success, as in botocore

    # Memory flat after warm-up: last quarter vs. first, by RSS and by tracemalloc. (Absolute
    # slack: at this scale the traced heap is a few hundred KiB, so 5% is tens of KiB.)
    assert report["memory_samples"] >= 16
    first_rss, last_rss = report["rss_mib_first_last_quarter"]
    assert last_rss - first_rss < max(0.05 * first_rss, 2.0), report
    first_kib, last_kib = report["tracemalloc_kib_first_last_quarter"]
    assert last_kib - first_kib < max(0.05 * first_kib, 64), report
