"""Hide the person's real head before the avatar is drawn over it (replace mode).

The head and hair of each face are found with the person matte (``matting.PersonSegmenter``,
selfie model) inside a head zone built from the face's landmarks: an ellipse from well above
the forehead down to the chin, about 2.6 face widths across at the temples (:func:`head_zone`).
Those pixels are filled with background:

* video / live: a **clean plate** - each pixel of the zone that the matte shows as
  background is remembered (running average), so once the person has moved, what was
  behind their hair is known;
* whatever the plate does not know yet (and every photo): ``cv2.inpaint`` (Telea) on a
  low-resolution copy of the zone, upscaled - smooth, background-coloured fill.

Neck, shoulders and body stay; long hair that falls below the chin over the shoulders stays too
(the person matte does not tell hair from body there). ``AvatarEffect(keep_head=True)`` (``--keep-head``) skips this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from faceplay.face.types import Face

log = logging.getLogger(__name__)

ZONE_WIDTH = 1.3  #: half-width of the head zone, in face widths
ZONE_TOP = 1.2  #: zone top above the forehead, in face heights (hair volume)
PERSON = 0.4  #: matte level counted as person
INPAINT_SIDE = 160  #: long side of the low-resolution copy that is inpainted (photos)
INPAINT_SIDE_STREAM = 96  #: the same in streams (a face's first frame inpaints its whole zone; keep it short)


@dataclass
class HeadZone:
    """Where one face's head and hair may be: an ellipse from ``ZONE_TOP`` face heights above the
    forehead down to the chin, ``2 * ZONE_WIDTH`` face widths across - wide at the temples,
    narrow at the chin, so shoulders and neck beside and below the chin stay."""

    box: tuple[int, int, int, int]  #: x0, y0, x1, y1 of the zone in the frame
    mask: np.ndarray  #: (y1-y0, x1-x0) bool, the ellipse inside the box


def head_zone(face: Face, width: int, height: int) -> HeadZone:
    """The head zone of ``face`` in a ``width`` x ``height`` frame."""
    lm = np.asarray(face.landmarks, np.float64)[:, :2]
    (lx, ty), (rx, by) = lm.min(0), lm.max(0)
    fw, fh = max(rx - lx, 4.0), max(by - ty, 4.0)
    cx, top = 0.5 * (lx + rx), ty - ZONE_TOP * fh
    a, b = ZONE_WIDTH * fw, 0.5 * (by - top)
    cy = top + b
    x0, x1 = int(max(0, np.floor(cx - a))), int(min(width, np.ceil(cx + a)))
    y0, y1 = int(max(0, np.floor(top))), int(min(height, np.ceil(by)))
    import cv2

    mask = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if mask.size:  # drawn with 4 fractional bits of sub-pixel precision
        cv2.ellipse(mask, (int(round((cx - x0) * 16)), int(round((cy - y0) * 16))), (int(a * 16), int(b * 16)),
                    0.0, 0.0, 360.0, 1, -1, cv2.LINE_8, 4)
    return HeadZone((x0, y0, x1, y1), mask.view(bool))


class HeadRemover:
    """One stream's head removal: the clean plate (video / live) and the last matte.

    Args:
        segmenter: a ``PersonSegmenter`` (shared by the effect).
        temporal: keep a clean plate across frames (video / live).
        matte_every: in a stream, run the segmenter every n-th frame (the head moves little
            between two frames; the zone itself follows the landmarks every frame).
    """

    def __init__(self, segmenter, *, temporal: bool, matte_every: int = 2) -> None:
        self.segmenter = segmenter
        self.temporal = temporal
        self.matte_every = max(1, int(matte_every)) if temporal else 1
        self.plate: np.ndarray | None = None
        self.known: np.ndarray | None = None  #: plate pixels that hold something
        self.guess: np.ndarray | None = None  #: plate pixels that were inpainted, not seen
        self._matte: np.ndarray | None = None
        self._fresh = False
        self._n = 0
        self._pn = 0  #: frames seen by prepare() (analysis thread only)
        self._prepared = False  #: this stream's mattes are made by prepare()

    def matte(self, rgb: np.ndarray, box: tuple[int, int, int, int], prepared=None) -> np.ndarray:
        """Person matte (float32 0..1) of the ``box`` crop of ``rgb``; in a stream recomputed every
        ``matte_every`` frames (in between, the last one is read at the new box).

        ``prepared``: the (box, matte) :meth:`prepare` computed for this frame on the analysis
        thread. Once a stream's frames come prepared, mattes are only made there.
        """
        x0, y0, x1, y1 = box
        h, w = rgb.shape[:2]
        stale = self._matte is None or self._matte.shape != (h, w)
        if prepared is not None:
            self._fresh = True
            (x0, y0, x1, y1), crop = prepared
        else:
            self._fresh = stale or (not self._prepared and self._n % self.matte_every == 0)
            crop = self.segmenter.matte(np.ascontiguousarray(rgb[y0:y1, x0:x1])) if self._fresh else None
        if self._fresh:
            if stale:
                self._matte = np.zeros((h, w), np.float32)
            else:
                self._matte.fill(0.0)
            self._matte[y0:y1, x0:x1] = crop
        self._n += 1
        return self._matte[box[1]:box[3], box[0]:box[2]]

    def prepare(self, frame, faces: Sequence[Face]) -> None:
        """On the analysis thread: every ``matte_every``-th frame, the person matte of the heads'
        zone goes into ``frame`` (``"person_matte"``) for :meth:`apply` to use."""
        self._prepared = True
        h, w = frame.rgb.shape[:2]
        _, box = self._zones(faces, w, h)
        if self._pn % self.matte_every == 0 and box[2] > box[0] and box[3] > box[1]:
            x0, y0, x1, y1 = box
            frame.put("person_matte", (box, self.segmenter.matte(np.ascontiguousarray(frame.rgb[y0:y1, x0:x1]))))
        self._pn += 1

    @staticmethod
    def _zones(faces: Sequence[Face], w: int, h: int) -> tuple[list[HeadZone], tuple[int, int, int, int]]:
        zones = [z for z in (head_zone(f, w, h) for f in faces) if z.box[2] > z.box[0] and z.box[3] > z.box[1]]
        if not zones:
            return [], (0, 0, 0, 0)
        return zones, (min(z.box[0] for z in zones), min(z.box[1] for z in zones),
                       max(z.box[2] for z in zones), max(z.box[3] for z in zones))

    def remove_mask(self, rgb: np.ndarray, faces: Sequence[Face],
                    prepared=None) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The person's head and hair pixels to replace with background: a bool mask of the
        returned box (x0, y0, x1, y1) that holds every face's head zone."""
        import cv2

        h, w = rgb.shape[:2]
        zones, box = self._zones(faces, w, h)
        if not zones:
            return np.zeros((0, 0), bool), (0, 0, 0, 0)
        bx, by = box[0], box[1]
        person = self.matte(rgb, box, prepared) > PERSON
        zone = np.zeros(person.shape, bool)
        for z in zones:
            x0, y0, x1, y1 = z.box
            zone[y0 - by:y1 - by, x0 - bx:x1 - bx] |= z.mask
        out = person & zone
        if out.any():  # cover the soft edge of the hair (wisps, the matte's blur) too, never the neck
            r = max(3, int(round(min(h, w) / 160)))
            out = cv2.dilate(out.view(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).view(bool) & zone
        if self._fresh:  # the plate learns from fresh mattes only
            self._learn(rgb, person, out, box)
        return out, box

    def _learn(self, rgb: np.ndarray, person: np.ndarray, remove: np.ndarray, box) -> None:
        """Update the clean plate inside ``box`` with the pixels the matte shows as background."""
        import cv2

        if not self.temporal:
            return
        if self.plate is None or self.plate.shape[:2] != rgb.shape[:2]:
            self.plate = np.zeros(rgb.shape, np.float32)
            self.known = np.zeros(rgb.shape[:2], bool)
            self.guess = np.zeros(rgb.shape[:2], bool)
        x0, y0, x1, y1 = box
        plate, known, guess = self.plate[y0:y1, x0:x1], self.known[y0:y1, x0:x1], self.guess[y0:y1, x0:x1]
        img = rgb[y0:y1, x0:x1]
        bg = ~(person | remove)
        cv2.accumulateWeighted(img, plate, 0.25, mask=bg.view(np.uint8))
        first = bg & (guess | ~known)  # seen for the first time, or only inpainted so far: take it as is
        cv2.accumulateWeighted(img, plate, 1.0, mask=first.view(np.uint8))
        known |= bg
        guess &= ~bg

    def apply(self, rgb: np.ndarray, faces: Sequence[Face], prepared=None) -> np.ndarray:
        """A copy of ``rgb`` with the heads of ``faces`` replaced by background (``prepared``: see :meth:`matte`).

        In a stream, inpainted pixels are kept in the plate (marked as a guess) so the next
        frames only inpaint what is new, and are replaced when the real background shows.
        """
        if not faces:
            return rgb
        remove, (x0, y0, x1, y1) = self.remove_mask(rgb, faces, prepared)
        if not remove.any():
            return rgb
        import cv2

        out = rgb.copy()
        crop = np.ascontiguousarray(out[y0:y1, x0:x1])
        todo = remove
        if self.temporal:
            known = self.known[y0:y1, x0:x1]
            plate = self.plate[y0:y1, x0:x1]
            cv2.copyTo(cv2.convertScaleAbs(plate), (remove & known).view(np.uint8), crop)
            todo = remove & ~known
        if todo.any():
            _inpaint(crop, todo, INPAINT_SIDE_STREAM if self.temporal else INPAINT_SIDE)
            if self.temporal:
                cv2.accumulateWeighted(crop, plate, 1.0, mask=todo.view(np.uint8))
                self.known[y0:y1, x0:x1] |= todo
                self.guess[y0:y1, x0:x1] |= todo
        out[y0:y1, x0:x1] = crop
        return out


def _inpaint(img: np.ndarray, mask: np.ndarray, side: int = INPAINT_SIDE) -> None:
    """Fill ``mask`` in ``img`` (in place) by Telea inpainting of a low-resolution copy of its box."""
    import cv2

    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    pad = 8
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + 1 + pad)
    crop, m = np.ascontiguousarray(img[y0:y1, x0:x1]), mask[y0:y1, x0:x1]
    k = min(1.0, side / max(crop.shape[:2]))
    size = (max(4, int(round(crop.shape[1] * k))), max(4, int(round(crop.shape[0] * k))))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    ms = cv2.resize(m.view(np.uint8) * 255, size, interpolation=cv2.INTER_NEAREST)
    ms = cv2.dilate(ms, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, ms, 3, cv2.INPAINT_TELEA)
    up = cv2.resize(filled, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    cv2.copyTo(up, m.view(np.uint8), crop)
    img[y0:y1, x0:x1] = crop


def visible_head_fraction(original: np.ndarray, output: np.ndarray, faces: Sequence[Face], person: np.ndarray,
                          *, tol: int = 6) -> float:
    """Share of the head regions (each face's :class:`HeadZone` ellipse) where the person's own
    pixels (``person`` matte of ``original`` > 0.5) are still shown unchanged in ``output``."""
    h, w = original.shape[:2]
    shown = (np.abs(output[..., :3].astype(np.int16) - original.astype(np.int16)).max(-1) <= tol) & (person > 0.5)
    seen = area = 0
    for f in faces:
        z = head_zone(f, w, h)
        x0, y0, x1, y1 = z.box
        seen += int((shown[y0:y1, x0:x1] & z.mask).sum())
        area += int(z.mask.sum())
    return seen / max(area, 1)
