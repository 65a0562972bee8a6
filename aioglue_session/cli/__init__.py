"""The ``aioglue-session`` command line: ``get``, ``wait``, ``watch`` and ``demo``.

One module per job: ``parser`` (the commands and their options), ``commands`` (what each does,
its exit code), ``output`` (the JSON lines on stdout), ``progress`` (the bar or status line on
stderr, on a terminal only).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Sequence

from .commands import (
    COMMANDS,
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    ConfigurationError,
    log,
)
from .parser import PROG, build_parser, version_text

__all__ = ["main"]


def _debug_handler() -> logging.Handler:
    """Send the library's log (``aioglue_session`` and its children) to stderr at DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    library = logging.getLogger("aioglue_session")
    library.addHandler(handler)
    library.setLevel(logging.DEBUG)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # exits 2 on a usage error, 0 after --help / --version
    handler = _debug_handler() if args.debug else None
    if handler is not None:
        log.debug("%s", version_text())
        log.debug("arguments: %s", sys.argv[1:] if argv is None else list(argv))
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(args))
    except ConfigurationError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        if handler is not None:
            traceback.print_exc()
        print(f"{PROG}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if handler is not None:
            logging.getLogger("aioglue_session").removeHandler(handler)
