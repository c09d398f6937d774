"""Locks on the data directory, so that processes sharing one cannot damage each other's work.

An embedded Chroma store belongs to one process at a time: Chroma keeps the vector index in the
process and writes it back to the files, so a second process on them does not reliably see the
first one's vectors, and both write to the same files. Opening a library claims its data directory for the
rest of the process's life (``claim_data_dir``): exclusively for an embedded store, shared with a
Chroma server, where the data directory holds only each client's BM25 index. A claim that cannot
be had fails at once with a ``StoreError`` naming the processes that hold the directory and are
still running.

Saving or loading a BM25 index holds ``folder_lock`` on its folder while it works, so clients of
one server that share a data directory never read, or remove, each other's half-written files.

Where there is no ``fcntl`` (Windows), nothing is locked.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from rag.errors import StoreError, setting_said

CLAIM_FILE = "citewire.lock"
_NAMED = 8  # processes a claim file names at most
_LOCKING = sys.platform != "win32"  # fcntl's flock; Windows has neither


@dataclass
class _Claim:
    handle: TextIO
    shared: bool


# Claims last as long as the process: a library has no close, and Chroma keeps its embedded
# client open for the process's life too. Keyed by the directory's device and inode, so a
# process that opens its directory again, by any path (another Library, ``rag.ask``), finds its
# own claim; the lock keeps two threads opening one directory from refusing each other.
_claims: dict[tuple[int, int], _Claim] = {}
_claiming = threading.Lock()


def _holder() -> str:
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
    # Bytes of the command line that are not UTF-8 (lone surrogates here) are written escaped.
    return f"pid {os.getpid()}: {command}".encode("utf-8", "backslashreplace").decode("utf-8")


def claim_data_dir(data_dir: Path, *, shared: bool) -> None:
    """Claim ``data_dir`` for this process: ``shared`` with other clients of a Chroma server, or
    alone for an embedded store. Raises ``StoreError`` when another process's claim stands in the
    way; a claim this process already holds is kept (made exclusive if it must be)."""
    if not _LOCKING:
        return
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        found = data_dir.stat()
    except OSError as exc:
        raise StoreError(f"Could not open the data directory {data_dir}: {exc}") from exc
    key = (found.st_dev, found.st_ino)
    with _claiming:
        claim = _claims.get(key)
        if claim is not None and (shared or not claim.shared):
            return
        if claim is not None:  # held shared, wanted alone: the same lock, made exclusive
            if not _try_lock(claim.handle, shared=False):
                refusal = _refusal(data_dir, claim.handle, shared=False)
                # A failed conversion may have dropped the shared lock (flock(2)).
                if not _try_lock(claim.handle, shared=True):
                    claim.handle.close()
                    del _claims[key]
                raise refusal
            _name_holder(claim.handle, alone=True)
            claim.shared = False
            return
        try:
            handle = (data_dir / CLAIM_FILE).open("a+", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"Could not open the data directory {data_dir}: {exc}") from exc
        try:
            if not _try_lock(handle, shared=shared):
                raise _refusal(data_dir, handle, shared=shared)
            _name_holder(handle, alone=not shared)
        except OSError as exc:  # a file system without locks (some network mounts), a full disk
            handle.close()
            raise StoreError(
                f"Could not claim the data directory {data_dir} ({exc}); put the library on a local "
                "disk with room to write"
            ) from exc
        except StoreError:
            handle.close()
            raise
        _claims[key] = _Claim(handle, shared)


def _try_lock(handle: TextIO, *, shared: bool) -> bool:
    """Take a shared or an exclusive lock on ``handle`` if no other holder stands in the way."""
    import fcntl

    try:
        fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _name_holder(handle: TextIO, *, alone: bool) -> None:
    """Write this process into the claim file: as its one holder, or after the last few others
    (clients of a server come and go; a refusal names those still running)."""
    handle.seek(0)
    others = [] if alone else handle.read().splitlines()[-(_NAMED - 1) :]
    handle.seek(0)
    handle.truncate()
    handle.write("".join(f"{line}\n" for line in [*others, _holder()]))
    handle.flush()


def _running(line: str) -> bool:
    """Whether the process a claim file's ``line`` names is still running."""
    try:
        pid = int(line.split(":", 1)[0].removeprefix("pid "))
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # running, as another user
        return True
    return True


def _refusal(data_dir: Path, handle: TextIO, *, shared: bool) -> StoreError:
    """The error for a claim on ``data_dir`` that another process's claim stands in the way of."""
    handle.seek(0)
    named = [line for line in handle.read().splitlines() if _running(line)]
    folder = data_dir.resolve()
    if shared:  # the holder has it alone, and wrote its name last
        holder = named[-1] if named else "another process"
        return StoreError(
            f"The data directory {folder} is in use by another process ({holder}) with its embedded "
            "store. Stop that process, or give this one another data directory as "
            f"{setting_said('data_dir')}."
        )
    with open(handle.name, encoding="utf-8") as probe:
        held_shared = _try_lock(probe, shared=True)
    if held_shared:
        return StoreError(
            f"The data directory {folder} is in use by clients of a Chroma server "
            f"({'; '.join(named) or 'other processes'}). Give this one their Chroma server's url "
            f"as {setting_said('chroma_url')} to share it, or another data directory."
        )
    holder = named[-1] if named else "another process"
    return StoreError(
        f"The data directory {folder} is in use by another process ({holder}). An embedded store "
        "belongs to one process at a time: stop that process, or add articles through it (the "
        "chat page's Library panel, or POST /v1/articles of `citewire serve`). To share a library "
        "between processes, serve it with a Chroma server and give every process, the chat page "
        f"included, its url as {setting_said('chroma_url')} (see docs/storage.md)."
    )


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (a file beside it) until the block ends, waiting for
    any other holder, in this process or another."""
    if not _LOCKING:
        yield
        return
    import fcntl

    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{folder.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
