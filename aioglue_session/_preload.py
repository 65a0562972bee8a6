"""Import botocore's signer and cattrs while aiohttp loads CA certificates.

Most of a cold start is imports, and ~30 ms of ``import aiohttp`` is not Python at all: at the
end of ``aiohttp.connector``, aiohttp builds its two default SSL contexts, and each loads the
system's CA file in OpenSSL with the GIL released. The botocore modules every client needs (its
SigV4 signer, ``AWSRequest``, the retry classifiers and quota, the config loader: ~25 ms, most
of it the ``urllib3`` that ``botocore.compat`` imports) and cattrs (~10 ms) are imported in a
helper thread started as ``aiohttp.connector`` starts, so they load while this thread waits
on OpenSSL. (Started earlier, the helper would only take turns with aiohttp's Python code.)
``import aioglue_session`` joins the helper before it returns: no thread outlives the import.

Nothing depends on it: if aiohttp is imported already, or a later aiohttp does not import
``aiohttp.connector``, the helper never starts and the same modules are imported where they
are used, as before. An error in the helper is dropped; the module that failed is imported
again where it is used, and raises there. The helper imports no module of this package or of
aiohttp; where both threads need the same standard-library module at once, one waits for the
other, as any two importing threads do.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["ALONGSIDE", "importing_aiohttp"]

#: What the helper imports: botocore's signer, request and retry modules, its config loader,
#: and cattrs (with attrs, which aiohttp has imported by then).
ALONGSIDE = (
    "botocore.auth",
    "botocore.awsrequest",
    "botocore.retries.standard",
    "botocore.retries.adaptive",
    "botocore.configloader",
    "botocore.loaders",
    "cattrs.gen",
)
_TRIGGER = "aiohttp.connector"


def _import_all(names: Sequence[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # imported again where it is used, and raised there
            continue


class _StartOnTrigger:
    """A meta path finder that finds nothing: it starts the helper when ``_TRIGGER`` is looked
    up, and lets the other finders find it."""

    def __init__(self, names: Sequence[str]) -> None:
        self.helper = threading.Thread(
            target=_import_all, args=(names,), name="aioglue-session-imports", daemon=True
        )

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == _TRIGGER and self.helper.ident is None:
            # No new thread here (an isolated subinterpreter...): the modules load in turn.
            with suppress(RuntimeError):
                self.helper.start()
        return None


def _cpus() -> int:
    """How many CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


@contextmanager
def importing_aiohttp(names: Sequence[str] = ALONGSIDE) -> Iterator[None]:
    """While the body imports aiohttp, import ``names`` in a helper thread beside its SSL set-up."""
    if _TRIGGER in sys.modules or _cpus() < 2:  # nothing to overlap with, or nothing to run on
        yield
        return
    finder = _StartOnTrigger(names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        if finder.helper.ident is not None:
            finder.helper.join()
