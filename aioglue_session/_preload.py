"""Import botocore's signer and cattrs while aiohttp loads CA certificates.

Most of a cold start is imports, and ~30 ms of ``import aiohttp`` is not Python at all: at the
end of ``aiohttp.connector``, aiohttp builds its two default SSL contexts, and each loads the
system's CA file in OpenSSL with the GIL released. The botocore modules every client needs (its
SigV4 signer, ``AWSRequest``, the retry classifiers and quota, the config loader: ~25 ms, most
of it the ``urllib3`` that ``botocore.compat`` imports) and cattrs (~10 ms) are imported in a
helper thread meanwhile: started before aiohttp, it waits until ``aiohttp.connector`` appears in
``sys.modules`` (looking every millisecond; while aiohttp runs Python it gets the GIL to look
about every 5 ms), then imports, mostly while this thread waits on OpenSSL. (Importing from the
start, it would only take turns with aiohttp's Python code: measured, no faster.) ``import
aioglue_session`` joins the helper before it returns: no thread outlives the import.

It watches ``sys.modules`` rather than hooking the import system: a finder put in
``sys.meta_path`` and taken out again while another thread is importing can make that thread
skip the next finder, and so fail to find a module that is there (seen as a
``ModuleNotFoundError`` for ``urllib3.response`` in about one import in 500 with the switch
interval at 1 µs).

Nothing depends on it: if aiohttp is imported already, or never imports ``aiohttp.connector``,
the helper imports nothing and the same modules are imported where they are used, as before. An
error in the helper is dropped; the module that failed is imported again where it is used, and
raises there. The helper imports no module of this package or of aiohttp; where both threads
need the same standard-library module at once, one waits for the other, as any two importing
threads do.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

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
# How often the helper looks for the trigger while it waits (it needs the GIL for that, so it
# checks at most about every 5 ms, the interpreter's switch interval, while aiohttp runs Python).
_POLL = 0.001


def _import_when_started(trigger: str, names: Sequence[str], done: threading.Event) -> None:
    """Wait until ``trigger`` starts being imported (it is in ``sys.modules`` from then on),
    then import ``names``; give up if the body ends without it."""
    while trigger not in sys.modules and not done.wait(_POLL):
        pass
    if trigger not in sys.modules:
        return
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # imported again where it is used, and raised there
            continue


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
    done = threading.Event()
    helper = threading.Thread(
        target=_import_when_started,
        args=(_TRIGGER, names, done),
        name="aioglue-session-imports",
        daemon=True,
    )
    started = True
    try:
        helper.start()
    except RuntimeError:  # no new thread here (an isolated subinterpreter...): in turn
        started = False
    try:
        yield
    finally:
        if started:
            done.set()
            helper.join()
