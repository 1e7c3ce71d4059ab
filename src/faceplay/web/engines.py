"""The models behind the web app, shared by all requests and loaded on first use.

Threading: MediaPipe graphs, ONNX sessions and the SQLite gallery are not
shared across threads at will, and OpenGL contexts are per thread. So

* photo analysis borrows one of ``analyzers`` FaceAnalyzers (default: one per
  core, at most 2) from a small pool, one request at a time each,
* everything that renders (live frames, photo relight / avatar) runs on one
  dedicated ``gl`` thread; live frames are decoded and tracked on a ``track``
  thread first, so the two stages of consecutive frames overlap on 2 cores,
* every gallery operation runs on one ``gallery`` thread,
* video jobs run on the ``jobs`` thread (with its own GL context).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import queue
import threading
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from faceplay.web.config import Settings
from faceplay.web.errors import HTTPError

log = logging.getLogger(__name__)


def feature_available(name: str) -> bool:
    """True when the feature's module (``avatar``, ``relight``, ``lookalike``) and its entry points exist."""
    probes = {
        "relight": "faceplay.relight.api",
        "lookalike": "faceplay.lookalike.search",
        "avatar": AVATAR_MODULE,
    }
    try:
        return importlib.util.find_spec(probes[name]) is not None
    except ModuleNotFoundError:
        return False


AVATAR_MODULE = "faceplay.avatar.effect"


def require(name: str) -> None:
    """503 JSON when a feature's module is not installed in this build."""
    if not feature_available(name):
        raise HTTPError(503, f"the {name} feature is not installed in this faceplay build; "
                             f"install faceplay with its {name} module to use this endpoint")


class Engines:
    """Lazily created shared models and the executors they run on."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._new_pools()
        self._pool: queue.Queue = queue.Queue()
        self._created: list = []
        self._pool_lock = threading.Lock()
        self.n_analyzers = max(1, min(settings.analyzers, os.cpu_count() or 1))
        self._relighter = None  # lives on the gl thread
        self._live_relighter = None  # gl thread
        self._store = None  # lives on the gallery thread
        self._faces = None  # gallery FaceSource, gallery thread

    # -- executors ---------------------------------------------------------
    def _new_pools(self) -> None:
        self.gl = ThreadPoolExecutor(1, thread_name_prefix="faceplay-gl")
        self.track_pool = ThreadPoolExecutor(1, thread_name_prefix="faceplay-track")
        self.gallery_pool = ThreadPoolExecutor(1, thread_name_prefix="faceplay-gallery")

    async def on_gl(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.gl, fn, *args)

    async def on_track(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.track_pool, fn, *args)

    async def on_gallery(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.gallery_pool, fn, *args)

    # -- face analysis -----------------------------------------------------
    @contextmanager
    def analyzer(self):
        """Borrow a :class:`FaceAnalyzer` for one request (created on first use, at most ``n_analyzers``)."""
        try:
            fa = self._pool.get_nowait()
        except queue.Empty:
            fa = None
            with self._pool_lock:
                if len(self._created) < self.n_analyzers:
                    from faceplay.face.analyzer import FaceAnalyzer

                    fa = FaceAnalyzer()
                    self._created.append(fa)
            if fa is None:
                fa = self._pool.get()
        try:
            yield fa
        finally:
            self._pool.put(fa)

    def analyze(self, rgb, fields) -> list:
        with self.analyzer() as fa:
            return fa.analyze(rgb, fields=fields)

    def complete(self, rgb, faces, fields) -> None:
        """Add ``fields`` to faces already found in ``rgb`` (no re-detection)."""
        from faceplay.media.frame import Frame

        with self.analyzer() as fa:
            fa.complete(Frame(np.ascontiguousarray(rgb)), list(faces), fields)

    def verify(self, a, b):
        with self.analyzer() as fa:
            return fa.verify(a, b)

    # -- relight (gl thread) ----------------------------------------------
    def relighter(self):
        if self._relighter is None:
            from faceplay.relight.relighter import Relighter

            self._relighter = Relighter()
        return self._relighter

    def live_relighter(self):
        """One relighter shared by every live session (each keeps its own RelightState).

        It uses the mesh matte: the selfie / RVM mattes cost 200+ ms a frame on
        a 2-core CPU, and the mesh matte keeps no per-stream state.
        """
        if self._live_relighter is None:
            from faceplay.relight.relighter import Relighter

            self._live_relighter = Relighter(video=True, matte="mesh")
        return self._live_relighter

    # -- gallery (gallery thread) -----------------------------------------
    def store(self, create: bool = False):
        """The gallery; ``create`` makes an empty embedded one on first add."""
        if self._store is None:
            from faceplay.errors import StoreError
            from faceplay.lookalike import open_gallery

            loc = self.settings.gallery_location
            try:
                self._store = open_gallery(loc)
            except StoreError:
                if not create:
                    raise StoreError("the gallery is empty; add photos or videos on the kiosk page "
                                     "(or POST /api/gallery/add) first") from None
                from faceplay.lookalike.faces import FaceSource

                self._store = open_gallery(loc, create=True, dim=FaceSource("sface").dim, embedding_model="sface")
        return self._store

    def gallery_faces(self):
        if self._faces is None:
            from faceplay.lookalike.faces import FaceSource

            self._faces = FaceSource((self._store.embedding_model if self._store else None) or "sface")
        return self._faces

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        """Release every model on the thread that owns it, then stop the executors."""
        def close_gl():
            for name in ("_relighter", "_live_relighter"):
                obj = getattr(self, name)
                if obj is not None:
                    obj.close()
                    setattr(self, name, None)

        def close_gallery():
            if self._faces is not None:
                self._faces.close()
                self._faces = None
            if self._store is not None:
                self._store.close()
                self._store = None

        self.track_pool.shutdown(wait=True, cancel_futures=True)
        for pool, fn in ((self.gl, close_gl), (self.gallery_pool, close_gallery)):
            try:
                pool.submit(fn).result(timeout=30)
            except Exception as exc:  # pragma: no cover - shutdown best effort
                log.warning("closing %s failed: %s", fn.__name__, exc)
            pool.shutdown(wait=True, cancel_futures=True)
        with self._pool_lock:
            for fa in self._created:
                fa.close()
            self._created.clear()
            self._pool = queue.Queue()
        self._new_pools()  # the app can start again (a second lifespan cycle) with fresh threads
