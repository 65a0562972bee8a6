"""Look up every session id in a file, concurrently; print one NDJSON line per id.

    python examples/bulk_lookup.py ids.txt --concurrency 64 > sessions.ndjson
    python examples/bulk_lookup.py ids.txt --max-rate auto  # at the account's quota, no id lost

With no AWS settings (no --region/--endpoint-url, no AWS_REGION/AWS_PROFILE...), it runs against
a local Glue endpoint seeded with the ids from the file (every third one left out, to show the
per-id errors).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from _local import glue_client

from aioglue_session import errors


def read_ids(path: Path) -> Iterator[str]:
    """Lazily, one id per non-blank line: a file of millions of ids is never held in memory."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield line.rstrip("\r\n")


async def run(args: argparse.Namespace) -> int:
    seed = [sid for i, sid in enumerate(read_ids(args.ids_file)) if i % 3 != 2]
    failed = 0
    rate = args.max_rate
    options = {} if rate is None else {"max_rate": rate if rate == "auto" else float(rate)}
    async with glue_client(args.endpoint_url, args.region, seed, **options) as (glue, _):
        async for result in glue.get_sessions(
            read_ids(args.ids_file), concurrency=args.concurrency
        ):
            if result.session is not None:
                line = result.session.to_json_dict()
            else:
                failed += 1
                err = result.error
                if isinstance(err, errors.GlueError):
                    code, message = err.code, err.message
                else:
                    code, message = type(err).__name__, str(err)
                line = {"Id": result.id, "Error": {"Code": code, "Message": message}}
            sys.stdout.write(json.dumps(line) + "\n")
        if rate == "auto":  # what it learned of the endpoint's quota
            print(f"learned rate: {glue.send_rate:.1f} requests/s", file=sys.stderr)
    print(f"{failed} ids failed", file=sys.stderr)
    return 1 if failed and not args.allow_failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids_file", type=Path, nargs="?", help="one session id per line")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--max-rate", help='requests/s for the client, or "auto" to learn the quota from throttles'
    )
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--allow-failures", action="store_true", help="exit 0 even if ids failed")
    args = parser.parse_args()
    if args.ids_file is None:  # a self-contained run: make an ids file
        tmp = Path(tempfile.mkdtemp()) / "ids.txt"
        tmp.write_text("".join(f"example-{i:03d}\n" for i in range(30)), encoding="utf-8")
        args.ids_file, args.allow_failures = tmp, True
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
