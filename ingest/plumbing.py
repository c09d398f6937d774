"""The ingest's plumbing: reading ahead on a thread while the model embeds (``prefetch``), a
cache of recently embedded passages (``RecentVectors``), and handing freed memory back to the
system between groups (``release_freed_memory``)."""

from __future__ import annotations

import ctypes
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from queue import Full, Queue
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: nothing to do


def release_freed_memory() -> None:
    """Hand memory the process has freed back to the system (glibc's ``malloc_trim``).

    A long ingest frees as much as it keeps (batches, index versions, Chroma's buffers), and
    glibc keeps freed pages in the process; handing them back after each group keeps the peak
    from creeping up with the corpus. Elsewhere than glibc this does nothing.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """``items``, produced in a background thread up to ``depth`` ahead of the consumer.

    An exception in the producer is raised here; a consumer that stops early stops the producer.
    """
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))

    worker = threading.Thread(target=produce, name="citewire-prepare", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()


class RecentVectors:
    """The vectors of the last ``capacity`` passages embedded, by their token ids.

    News repeats itself: the same wire story filed twice, a file copied into two folders.
    Identical model input gives the identical vector, so it is looked up, not computed again.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()

    @staticmethod
    def key(token_ids: Sequence[int]) -> bytes:
        return hashlib.blake2b(np.asarray(token_ids, dtype=np.int32).tobytes(), digest_size=16).digest()

    def get(self, key: bytes) -> np.ndarray | None:
        vector = self._vectors.get(key)
        if vector is not None:
            self._vectors.move_to_end(key)
        return vector

    def put(self, key: bytes, vector: np.ndarray) -> None:
        self._vectors[key] = vector
        self._vectors.move_to_end(key)
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
