"""A producer thread a few items ahead of its consumer (the runner's decode and track stages)."""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator


def ahead(items: Iterable, depth: int, name: str) -> Iterator:
    """``items`` produced in a thread of its own, at most ``depth`` ahead of the consumer.

    An exception in the producer is raised in the consumer; when the consumer stops
    early (or fails), the producer thread is stopped and joined before this returns.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is end:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            worker.join(timeout=0.05)
