"""Run the ``citewire`` command with a fault made to happen at a chosen point of its work.

    python tests/cli_hook.py TARGET CALL ACTION -- citewire arguments...

TARGET is ``module:function`` or ``module:Class.method``; just before its CALL-th call the
ACTION happens, then the call goes on as usual:

- ``sigint``: the process gets SIGINT, as from Ctrl-C in a terminal;
- ``kill:PID:PORT``: the process PID (a Chroma server) is killed with SIGKILL, and this waits
  until nothing answers on PORT.

A test that interrupts an ingest "once some of it is stored" by watching from outside races the
machine's speed (a fast one finishes first); this makes the fault land at the same point of the
work on any machine, while everything else (the signal handling, the store, the messages) is
the real command's.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any


def act(action: str) -> None:
    if action == "sigint":
        signal.raise_signal(signal.SIGINT)
        return
    kind, pid, port = action.split(":")
    assert kind == "kill", action
    os.kill(int(pid), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} still answers after SIGKILL")


def hook(target: str, call: int, action: str) -> None:
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original: Callable[..., Any] = getattr(owner, name)
    calls = 0

    @functools.wraps(original)
    def hooked(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            act(action)
        return original(*args, **kwargs)

    setattr(owner, name, hooked)


def main(argv: list[str]) -> int:
    split = argv.index("--")
    target, call, action = argv[:split]
    # As in a terminal: a background job of a shell without job control (`cmd &` in a script,
    # as CI may start the tests) inherits SIGINT ignored, and Python then installs no handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    hook(target, int(call), action)
    from ui.cli import main as citewire

    return citewire(argv[split + 1 :])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
