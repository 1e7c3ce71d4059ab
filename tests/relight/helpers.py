"""Shared helpers of the relighting v2 tests (real photos and clips from ../shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from faceplay.relight.auto import face_halves_mask


def analyse(faces_dir: Path, names: list[str]) -> dict:
    """name -> (rgb, faces) for single-person photos."""
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media.image import read_image

    out = {}
    with FaceAnalyzer() as fa:
        for name in names:
            rgb = read_image(faces_dir / name)
            faces = fa.analyze(rgb)
            assert len(faces) == 1, name
            out[name] = (rgb, faces)
    return out


def halves(rgb: np.ndarray, face) -> tuple[float, float]:
    """Mean 8-bit luma of the image-left and image-right half of the face (split at the nose tip)."""
    left, right = face_halves_mask(rgb.shape, face)
    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(y[left].mean()), float(y[right].mean())


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB of two uint8 images inside ``mask``."""
    mse = float(((a.astype(np.float64) - b.astype(np.float64))[mask] ** 2).mean())
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def short_clip(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of a real video, re-encoded (keeps the tests quick)."""
    from faceplay.media.video import VideoReader, VideoWriter, probe

    fps = probe(src)["fps"]
    with VideoReader(src) as r:
        it = iter(r)
        first = next(it)
        h, w = first.rgb.shape[:2]
        with VideoWriter(dst, fps, w, h) as wr:
            wr.write(first.rgb)
            for i, f in enumerate(it, start=1):
                if i >= frames:
                    break
                wr.write(f.rgb)
    return dst


def cli(*args) -> subprocess.CompletedProcess:
    """Run ``faceplay`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "faceplay.cli", *map(str, args)], capture_output=True, text=True, check=False,
                          timeout=600)


def cli_json(*args) -> dict:
    """Run ``faceplay ... --json`` and parse its last stdout line; fails with its stderr."""
    r = cli(*args, "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])
