"""Live Link Face CSV takes (Unreal's LiveLinkFaceImporter, Blender/Maya LLF importers).

Columns: ``Timecode``, ``BlendShapeCount`` (61), the 52 blendshapes in Live
Link Face order and spelling (:data:`~faceplay.creator.arkit.LLF_ORDER`), then
``HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll,
RightEyeYaw, RightEyePitch, RightEyeRoll`` in radians (eye roll is always 0).
``Timecode`` is ``HH:MM:SS:FF.mmm`` from the start of the input: ``FF`` the
frame within the second at the take's frame rate, ``.mmm`` the sub-frame.
One row per input frame.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from faceplay.creator.arkit import LLF_ORDER, PERFECT_SYNC, gaze
from faceplay.creator.sample import Sample
from faceplay.face.types import BLENDSHAPE_NAMES
from faceplay.media.output import AtomicFile

HEAD_EYE_COLUMNS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                                     "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount", *LLF_ORDER, *HEAD_EYE_COLUMNS)
_COLUMN_OF = {ps: i for i, ps in enumerate(LLF_ORDER)}
_ORDER = [BLENDSHAPE_NAMES.index(next(n for n, p in PERFECT_SYNC.items() if p == ps)) for ps in LLF_ORDER]


def timecode(seconds: float, fps: float) -> str:
    """``HH:MM:SS:FF.mmm`` for ``seconds`` at ``fps`` frames per second."""
    fps = max(1.0, float(fps))
    whole = int(math.floor(seconds + 1e-9))
    frames = (seconds - whole) * fps
    ff = int(math.floor(frames + 1e-6))
    sub = max(0.0, frames - ff)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.{int(round(sub * 1000)) % 1000:03d}"


class LiveLinkCsvWriter:
    """Writes one CSV row per :class:`Sample`; the file appears under its name on :meth:`close`."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self._file = AtomicFile(self.path)
        self._fh = open(self._file.tmp, "w", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(HEADER)
        self.rows = 0

    def write(self, s: Sample) -> None:
        """Append the row of one frame."""
        yaw, pitch, roll = s.angles
        g = gaze(s.weights)
        head_eyes = [math.radians(a) for a in (yaw, pitch, roll, g["left"]["yaw"], g["left"]["pitch"], 0.0,
                                                g["right"]["yaw"], g["right"]["pitch"], 0.0)]
        self._csv.writerow([timecode(s.time, self.fps), len(LLF_ORDER) + len(HEAD_EYE_COLUMNS),
                            *(f"{float(s.weights[i]):.6f}" for i in _ORDER), *(f"{v:.6f}" for v in head_eyes)])
        self.rows += 1

    def close(self) -> Path:
        """Finish the file and move it into place."""
        self._fh.close()
        self._file.commit()
        return self.path

    def abort(self) -> None:
        """Drop the partial file (the output keeps its previous content)."""
        self._fh.close()
        self._file.discard()
