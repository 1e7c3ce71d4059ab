"""One headless OpenGL context per thread (moderngl on EGL).

EGL works without a display: on a CPU it runs on Mesa llvmpipe, on a machine
with an NVIDIA driver on the GPU. The default moderngl backend needs X and is
not used.
"""

from __future__ import annotations

import logging
import threading

from faceplay.errors import RenderError

log = logging.getLogger(__name__)
_local = threading.local()


def gl_context():
    """The calling thread's standalone moderngl context (created on first use)."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        try:
            import moderngl
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise RenderError("moderngl is not installed; run `./run setup` (or pip install 'faceplay[render]')") from exc
        try:
            ctx = moderngl.create_standalone_context(require=330, backend="egl")
        except Exception as exc:
            raise RenderError(
                f"could not create a headless OpenGL context through EGL ({exc}); "
                "install Mesa's EGL drivers (Debian: libegl1 libegl-mesa0 libgl1-mesa-dri)"
            ) from exc
        log.info("OpenGL: %s / %s", ctx.info.get("GL_RENDERER"), ctx.info.get("GL_VERSION"))
        # A GL object dropped without release() is queued on the context instead of
        # leaking; Renderer.release() frees the queue with collect_garbage() on this thread.
        ctx.gc_mode = "context_gc"
        _local.ctx = ctx
    return ctx


_gl: dict[str, object] = {}


def _gl_call(name: str):
    """A GL entry point without arguments through ctypes (so the call runs without the GIL)."""
    fn = _gl.get(name)
    if fn is None:
        import ctypes
        import ctypes.util

        egl = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
        egl.eglGetProcAddress.restype = ctypes.c_void_p
        egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
        addr = egl.eglGetProcAddress(name.encode())
        fn = _gl[name] = ctypes.CFUNCTYPE(None)(addr) if addr else (lambda: None)
    return fn


def finish() -> None:
    """``glFinish`` on the calling thread's context, with Python's GIL released while the GPU works.

    moderngl holds the GIL inside its calls, so a read-back that waits for llvmpipe to rasterise
    would stall every other Python thread (the tracker of a pipelined stream) for the whole draw.
    Called through ctypes, the wait happens without the GIL; the read-back after it is a copy.
    """
    _gl_call("glFinish")()


def flush() -> None:
    """``glFlush``: start executing the commands issued so far and return (llvmpipe hands the
    scene to its rasteriser threads), so the caller can do CPU work while they draw."""
    _gl_call("glFlush")()


def collect_garbage(ctx) -> int:
    """Release the GL objects that were garbage-collected without ``release()`` (call on ``ctx``'s thread).

    moderngl's own ``ctx.gc()`` fails on objects that were released before being
    collected (it queues them too), so released ones are skipped here.
    """
    n = 0
    queue = ctx.objects
    while queue:
        obj = queue.popleft()
        release = getattr(obj, "release", None)
        if release is not None:
            release()
            n += 1
    return n
