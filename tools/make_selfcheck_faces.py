"""Regenerate the bundled real faces of the INT8 self-check (src/faceplay/models/selfcheck/).

Square crops (2.4x the face box, 256 px, JPEG q92) of the single-person photos
of ../shared/data/faces (MIT, face_recognition's test images) with their
identities, plus expressive frames of ../shared/data/videos/talking_*.mp4
(MIT, LivePortrait). ``faceplay models check`` runs every INT8 candidate and its
float model on these faces: small enough to ship (~0.4 MB), real enough that
an INT8 file that saturates on a CPU fails its accuracy check there.

    .venv/bin/python tools/make_selfcheck_faces.py
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np

from faceplay.face.analyzer import FaceAnalyzer
from faceplay.media import read_image
from faceplay.media.video import VideoReader
from faceplay.quantize.data import identity_of, shared_dir

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "faceplay" / "models" / "selfcheck"
SIDE = 256
#: frames of each talking-head video: expressive faces, varied poses, and attribute outputs near their
#: decision boundaries (where an INT8 file that drifts shows it)
VIDEO_FRAMES = {v: tuple(range(10, 410, 25)) for v in ("talking_d0.mp4", "talking_d3.mp4", "talking_d6.mp4",
                                                       "talking_d13.mp4", "talking_d19.mp4")}


def crop(rgb: np.ndarray, box) -> np.ndarray:
    x, y, w, h = box
    cx, cy, side = x + w / 2, y + h / 2, 2.4 * max(w, h)
    s = SIDE / side
    m = np.array([[s, 0, SIDE / 2 - s * cx], [0, s, SIDE / 2 - s * cy]], np.float32)
    return cv2.warpAffine(rgb, m, (SIDE, SIDE), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    shared = shared_dir() / "data"
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    index = []
    with FaceAnalyzer(precision="fp32") as fa:
        for p in sorted((shared / "faces").iterdir()):
            who = identity_of(p.name)
            if who is None or p.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            rgb = read_image(p)
            faces = fa.analyze(rgb)
            if not faces:
                continue
            name = f"{p.stem}.jpg"
            cv2.imwrite(str(OUT / name), cv2.cvtColor(crop(rgb, faces[0].box), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            index.append({"file": name, "identity": who, "source": f"shared/data/faces/{p.name} (MIT)"})
        for video, wanted in VIDEO_FRAMES.items():
            with VideoReader(shared / "videos" / video) as r:
                for fr in r:
                    if fr.index > max(wanted):
                        break
                    if fr.index in wanted and (faces := fa.analyze(fr)):
                        name = f"{Path(video).stem}_{fr.index:04d}.jpg"
                        cv2.imwrite(str(OUT / name), cv2.cvtColor(crop(fr.rgb, faces[0].box), cv2.COLOR_RGB2BGR),
                                    [cv2.IMWRITE_JPEG_QUALITY, 92])
                        index.append({"file": name, "identity": None, "source": f"shared/data/videos/{video} frame {fr.index} (MIT)"})
    (OUT / "index.json").write_text(json.dumps({
        "licence": "MIT: face_recognition test images (LICENSE.face_recognition) and LivePortrait examples (LICENSE.LivePortrait)",
        "made_by": "tools/make_selfcheck_faces.py", "faces": index}, indent=1))
    logging.info("%d faces in %s", len(index), OUT)


if __name__ == "__main__":
    main()
