"""Portrait relighting of one image / frame: fit → shading map → estimate → blend.

The stages are functions of :mod:`faceplay.relight.stages`; this module runs them
(:meth:`Relighter.relight`) and blends the result at full resolution.

Per frame:

1. every face is fitted with the morphable model (:mod:`faceplay.geometry.fit`),
   subdivided, and drawn into a G-buffer at reduced resolution (normals,
   occlusion, skin weight, the key light's soft shadow —
   :mod:`faceplay.render.shading`);
2. the original lighting is estimated as second-order SH on the skin pixels with
   an albedo prior (:mod:`faceplay.relight.illum`);
3. hair, neck and body get proxy normals from the foreground matte;
4. the new rig's diffuse shading over the old one gives a *gain map*
   (``ratio`` blend: old shading neutralised, new light applied), the rig's
   specular a *highlight map*;
5. both are upsampled and blended onto the full-resolution original inside the
   matte: ``out = screen(I * (1 + s·m·(g^(1/2.2) − 1)), s·m·spec)``, where
   ``s`` is the strength and ``m`` the matte. Outside the matte pixels are left
   untouched unless the rig has a ``background`` tint.

Blend modes (``blend=``): ``ratio`` (default; replaces the original shading by
the new one), ``multiply`` (keeps the original shading and multiplies the new
light on top, normalised to the face's mean), ``add`` (only adds light: gains
below 1 are clamped to 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from faceplay.errors import ConfigError
from faceplay.relight import stages
from faceplay.relight.lights import Rig
from faceplay.relight.masks import Matter
from faceplay.relight.stages import _GAMMA, _TO_LINEAR

log = logging.getLogger(__name__)

BLEND_MODES = ("ratio", "multiply", "add")


@dataclass
class Layers:
    """Intermediate layers of one relit frame (render resolution unless noted)."""

    normals: np.ndarray  #: (h, w, 3) view-frame normals (face mesh + proxy)
    face: np.ndarray  #: (h, w) face-mesh coverage
    skin: np.ndarray  #: (h, w) skin weight on the face
    matte: np.ndarray  #: (h, w) foreground matte
    shadow: np.ndarray  #: (h, w) key-light visibility
    old_shading: np.ndarray  #: (h, w, 3) estimated original light (albedo removed)
    new_shading: np.ndarray  #: (h, w, 3) the rig's diffuse light
    specular: np.ndarray  #: (h, w, 3) the rig's highlights
    gain: np.ndarray  #: (h, w, 3) blended multiplicative gain (linear)
    meshes: list[np.ndarray] = field(default_factory=list)  #: full-res image vertices per face
    triangles: np.ndarray | None = None
    depth: np.ndarray | None = None  #: (h, w) face-mesh z towards the viewer, render pixels (0 off the face)
    strength: float = 1.0  #: the strength the result was blended with


@dataclass
class RelightResult:
    """The relit image plus what was estimated."""

    image: np.ndarray  #: (H, W, 3) uint8 RGB
    sh: np.ndarray | None  #: (9, 3) estimated original light (linear, albedo removed), None without a face
    n_faces: int
    layers: Layers | None = None
    warnings: list[str] = field(default_factory=list)

    def original_rig(self) -> Rig:
        """A rig that reproduces the estimated original light (for checks and blending)."""
        if self.sh is None:
            raise ConfigError("no face was relit, so no original light was estimated")
        return Rig(name="original", lights=(), description="the estimated original lighting", sh=self.sh,
                   exposure_mode="absolute")


#: in video and live, faces narrower than this (frame pixels) are left as they are: at the stream
#: shading map's 192 px they cover a dozen pixels, too few for a steady light estimate (the hamilton
#: clip's 42 px singer flickered 3x the input when relit), and a relit face that small is barely seen
MIN_STREAM_FACE_PX = 56


@dataclass
class RelightState:
    """Per-video memory: fitters per track and smoothed light / layers."""

    fitters: dict = field(default_factory=dict)
    sh: np.ndarray | None = None
    gain: np.ndarray | None = None
    spec: np.ndarray | None = None
    matte: np.ndarray | None = None
    #: EMA weight of a new SH estimate per band (0, 1, 2): the overall level follows the input at once,
    #: so brightness flicker of the input is neutralised; the direction is smoothed
    sh_alpha: tuple[float, float, float] = (1.0, 0.3, 0.2)
    map_alpha: float = 1.0  #: EMA weight of new gain / highlight maps (1 = no smoothing)
    level: float | None = None  #: smoothed mean face gain (``keep`` exposure)
    fade: float = 0.7  #: per frame, how much of the relight is kept after the face is lost
    #: the last fully shaded frame (key frame): its maps, face landmarks, track ids, rig and blend
    key: dict | None = None
    since_key: int = 0  #: frames composited from the key frame's maps since it was shaded
    ids: tuple | None = None  #: track ids of the last frame with faces

    def follow(self, faces: list) -> None:
        """Start the smoothed light afresh when none of the faces of the last frame with faces is left
        (a new person, a cut): otherwise the new face would inherit the old one's level and light and
        drift to its own over a second. Frames without a face keep the state (the relight fades out)."""
        if not faces:
            return
        ids = tuple(f.track_id for f in faces)
        if self.ids is not None and not set(ids) & set(self.ids):
            self.sh = self.gain = self.spec = self.matte = self.level = self.key = None
            self.since_key = 0
        self.ids = ids


class Relighter:
    """Relights portraits; reuse one instance (it keeps the GL pass and the matting model).

    >>> r = Relighter()
    >>> out = r.relight(rgb, faces, preset("left"), strength=0.8)
    >>> out.image
    """

    def __init__(self, render_max_side: int | None = None, subdivision: int = 1, matte: str = "auto",
                 video: bool = False, matte_every: int | None = None, shade_every: int | None = None) -> None:
        #: the shading map's resolution (longer side): 320 for photos, 192 for video (speed)
        self.render_max_side = render_max_side or (192 if video else 320)
        #: video: run the person segmentation every n-th frame (the matte is smoothed in between)
        self.matte_every = matte_every or (3 if video else 1)
        #: video: shade every n-th frame; in between the key frame's maps follow the face's motion
        #: (:mod:`faceplay.relight.reuse`) and only the full-resolution blend runs
        self.shade_every = shade_every or (2 if video else 1)
        self._frame_no = 0
        self._last_matte: np.ndarray | None = None
        self.levels = subdivision
        self.matter = Matter(video=video, prefer=matte)
        self._pass = None
        self._skin = None
        self.timings: dict[str, float] = {}

    # -- public ---------------------------------------------------------
    def relight(
        self,
        rgb: np.ndarray,
        faces: list,
        rig: Rig,
        strength: float = 0.8,
        *,
        blend: str = "ratio",
        state: RelightState | None = None,
        keep_layers: bool = False,
    ) -> RelightResult:
        """Relight ``rgb`` (H, W, 3 uint8) whose ``faces`` (:class:`Face` list) are known.

        With no face the image is returned unchanged with a warning.
        """
        import time

        if not (0.0 <= strength <= 2.0):
            raise ConfigError(f"strength must be between 0 and 2, not {strength}")
        if blend not in BLEND_MODES:
            raise ConfigError(f"unknown blend mode {blend!r}: use one of {', '.join(BLEND_MODES)}")
        if state is not None:  # a stream: faces too small for a steady light are left as they are
            faces = [f for f in faces if f.box[2] >= MIN_STREAM_FACE_PX]
            state.follow(faces)
        if not faces:
            if state is not None and state.gain is not None:
                return self._fade_out(rgb, state)
            msg = "no face found: the image is returned unchanged"
            (log.debug if state is not None else log.warning)(msg)
            return RelightResult(image=rgb.copy(), sh=None, n_faces=0, warnings=[msg])
        if state is not None and self.shade_every > 1 and not keep_layers:
            from faceplay.relight.reuse import reuse

            res = reuse(self, rgb, faces, rig, strength, blend, state)
            if res is not None:
                return res
        t = [time.perf_counter()]
        k = stages.prepare(rgb, self.render_max_side)
        stages.fit_meshes(k, faces, state.fitters if state is not None else {}, state is not None, self.levels)
        t.append(time.perf_counter())
        key = rig.key()  # G-buffer with the key light's soft shadow
        k.gb = self._gpass().render(k.size, k.meshes, key.direction() if key is not None else None,
                                    softness=1.0 + 4.0 * (key.size if key is not None else 0.0))
        t.append(time.perf_counter())
        stages.matte_and_normals(k, self._matte(k, faces, state), state)
        t.append(time.perf_counter())
        if not stages.estimate_light(k, state):
            msg = "face too small to estimate its lighting: the image is returned unchanged"
            (log.debug if state is not None else log.warning)(msg)
            return RelightResult(image=rgb.copy(), sh=None, n_faces=len(faces), warnings=[msg])
        t.append(time.perf_counter())
        stages.shade(k, rig)
        stages.gain_maps(k, rig, blend, state, self._max_luma)
        t.append(time.perf_counter())
        out = self.composite(rgb, k.gain, k.spec, k.matte, strength, rig)
        t.append(time.perf_counter())
        self.timings = {f"{name}_ms": (b - a) * 1e3 for name, a, b in
                        zip(("fit", "render", "matte", "estimate", "shade", "blend"), t, t[1:])}
        if state is not None:
            from faceplay.relight.reuse import remember

            remember(state, rgb, faces, rig, blend)
        return RelightResult(image=out, sh=k.sh, n_faces=len(faces), layers=self._layers(k, strength) if keep_layers else None)

    def _matte(self, k: stages.Work, faces: list, state: RelightState | None) -> np.ndarray:
        """The person matte at render size (in video recomputed every ``matte_every`` frames)."""
        w, h = k.size
        sx, sy = k.scale_xy
        self._frame_no += 1
        if (state is not None and self._last_matte is not None and self._last_matte.shape == (h, w)
                and self._frame_no % self.matte_every):
            return self._last_matte
        self._last_matte = self.matter(k.low, [np.asarray(f.landmarks)[:, :2] * [sx, sy] for f in faces], (w, h))
        return self._last_matte

    @staticmethod
    def _layers(k: stages.Work, strength: float = 1.0) -> Layers:
        w, h = k.size
        B, cov = k.box, k.gb.coverage

        def full(x, fill):
            o = np.full((h, w) + x.shape[2:], fill, np.float32)
            o[B] = x
            return o

        return Layers(normals=full(k.normals, 0.0), face=cov, skin=k.gb.skin * cov, matte=k.matte, shadow=k.gb.shadow,
                      old_shading=full(k.old, 0.0), new_shading=full(k.new, 0.0), specular=k.spec, gain=k.gain,
                      meshes=k.full_meshes, triangles=k.triangles, depth=getattr(k.gb, "depth", None),
                      strength=strength)

    def estimate(self, rgb: np.ndarray, faces: list) -> Rig:
        """The estimated original lighting as a rig (relighting with it at strength 1 changes nothing)."""
        res = self.relight(rgb, faces, Rig(name="none", lights=()), strength=0.0)
        return res.original_rig()

    @staticmethod
    def composite(rgb: np.ndarray, gain: np.ndarray, spec: np.ndarray, matte: np.ndarray, strength: float, rig: Rig) -> np.ndarray:
        """Blend the low-resolution gain / highlight maps onto the full-resolution image."""
        H, W = rgb.shape[:2]
        out = rgb.copy()
        if rig.background > 0 and strength > 0:
            tint = _rig_tint(rig)
            bg = 1.0 + strength * rig.background * (tint - 1.0)
            mfull = cv2.resize(matte, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
            mix = (1 - mfull) * bg + mfull
            out = np.clip(out.astype(np.float32) * mix + 0.5, 0, 255).astype(np.uint8)
        if strength <= 0:
            return out
        h, w = gain.shape[:2]
        # rows / columns where the maps differ from neutral (flattened channels: fast reductions)
        touched = ((gain != 1.0) | (spec > 0)).reshape(h, w * 3)
        rows = np.flatnonzero(touched.any(1))
        cols = np.flatnonzero(touched.any(0).reshape(w, 3).any(1))
        if rows.size == 0:
            return out
        ly0, ly1 = max(rows[0] - 1, 0), min(rows[-1] + 2, h)
        lx0, lx1 = max(cols[0] - 1, 0), min(cols[-1] + 2, w)
        box = (slice(ly0, ly1), slice(lx0, lx1))
        eff = cv2.pow(np.maximum(gain[box], 0.0), 1.0 / _GAMMA)
        eff = 1.0 + strength * (eff - 1.0)
        # highlights are linear light added on top; screen-blending 2.5x the linear amount matches
        # (I_lin + spec)^(1/2.2) to within ~20 % over skin tones
        sp = strength * np.clip(2.5 * spec[box], 0.0, 1.0)
        fx, fy = w / W, h / H
        # the full-res box whose bilinear samples can differ from 1 / 0
        X0, X1 = max(int(np.floor((lx0 + 0.5) / fx - 0.5)), 0), min(int(np.ceil((lx1 - 0.5) / fx + 0.5)), W)
        Y0, Y1 = max(int(np.floor((ly0 + 0.5) / fy - 0.5)), 0), min(int(np.ceil((ly1 - 0.5) / fy + 0.5)), H)
        # bilinear upsampling of just that box (the sampling grid of cv2.resize)
        M = np.array([[fx, 0, (X0 + 0.5) * fx - 0.5 - lx0], [0, fy, (Y0 + 0.5) * fy - 0.5 - ly0]], np.float64)
        size = (X1 - X0, Y1 - Y0)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        eff_full = cv2.warpAffine(eff, M, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        # saturating, rounding multiply straight into uint8 (an exact 1.0 leaves a pixel as it was)
        crop = cv2.multiply(out[Y0:Y1, X0:X1], eff_full, dtype=cv2.CV_8U)
        if sp.max() > 0.5 / 255:
            # screen blend of the highlights: crop + sp * (255 - crop)
            sp_full = cv2.warpAffine(sp, M, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
            crop = cv2.add(crop, cv2.multiply(255 - crop, sp_full, dtype=cv2.CV_8U))
        out[Y0:Y1, X0:X1] = crop
        return out

    @staticmethod
    def _max_luma(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Linear luminance max-pooled to ``size`` = (w, h), then over 3x3 neighbours (bilinear reach)."""
        H, W = rgb.shape[:2]
        w, h = size
        k = max(1, int(np.ceil(max(W / w, H / h))))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if k > 1:
            gray = cv2.dilate(gray, np.ones((k, k), np.uint8))
        small = cv2.resize(gray, (w, h), interpolation=cv2.INTER_NEAREST)
        small = cv2.dilate(small, np.ones((3, 3), np.uint8))
        return _TO_LINEAR[small]

    def _fade_out(self, rgb: np.ndarray, state: RelightState) -> RelightResult:
        """Video: a face was lost — ease the last gain back to neutral instead of jumping."""
        keep = state.fade
        state.gain = 1.0 + keep * (state.gain - 1.0)
        state.spec = keep * state.spec
        if np.abs(state.gain - 1).max() < 0.01:
            state.gain = None
            return RelightResult(image=rgb.copy(), sh=None, n_faces=0)
        out = self.composite(rgb, state.gain, state.spec, state.matte, 1.0, Rig("fade", ()))
        return RelightResult(image=out, sh=state.sh, n_faces=0)

    def _gpass(self):
        if self._pass is None:
            from faceplay.render.shading import ShadingPass

            self._pass = ShadingPass()
        return self._pass

    def close(self) -> None:
        """Release the GL pass and the matting model."""
        if self._pass is not None:
            self._pass.release()
            self._pass = None
        self.matter.close()

    def __enter__(self) -> "Relighter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rig_tint(rig: Rig) -> np.ndarray:
    rad = sum((l.radiance for l in rig.lights), np.zeros(3))
    if not np.any(rad):
        return np.ones(3, np.float32)
    t = rad / rad.mean()
    return np.power(t, 1 / _GAMMA).astype(np.float32)
