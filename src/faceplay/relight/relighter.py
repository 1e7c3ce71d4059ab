"""Portrait relighting of one image / frame: fit → shading map → estimate → blend.

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
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from faceplay.errors import ConfigError
from faceplay.geometry.fit import FaceFitter
from faceplay.relight import illum
from faceplay.relight.lights import Rig
from faceplay.relight.masks import Matter, proxy_normals, vertex_skin_weights

log = logging.getLogger(__name__)

BLEND_MODES = ("ratio", "multiply", "add")
_GAMMA = 2.2
_TO_LINEAR = ((np.arange(256) / 255.0) ** _GAMMA).astype(np.float32)
#: the shading of the original light is never taken below this (avoids exploding gains in black areas)
SHADING_FLOOR = 0.06
GAIN_MAX = 8.0


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
        return Rig(name="original", lights=(), description="the estimated original lighting", sh=self.sh)


@dataclass
class RelightState:
    """Per-video memory: fitters per track and smoothed light / layers."""

    fitters: dict = field(default_factory=dict)
    sh: np.ndarray | None = None
    gain: np.ndarray | None = None
    spec: np.ndarray | None = None
    matte: np.ndarray | None = None
    sh_alpha: float = 0.35  #: EMA weight of a new SH estimate
    map_alpha: float = 0.6  #: EMA weight of new gain / highlight maps


class Relighter:
    """Relights portraits; reuse one instance (it keeps the GL pass and the matting model).

    >>> r = Relighter()
    >>> out = r.relight(rgb, faces, preset("left"), strength=0.8)
    >>> out.image
    """

    def __init__(self, render_max_side: int = 320, subdivision: int = 1, matte: str = "auto", video: bool = False) -> None:
        self.render_max_side = render_max_side
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
        H, W = rgb.shape[:2]
        if not faces:
            if state is not None and state.gain is not None:
                return self._fade_out(rgb, state)
            msg = "no face found: the image is returned unchanged"
            log.warning(msg)
            return RelightResult(image=rgb.copy(), sh=None, n_faces=0, warnings=[msg])
        t0 = time.perf_counter()
        s = min(1.0, self.render_max_side / max(H, W))
        w, h = max(int(round(W * s)), 8), max(int(round(H * s)), 8)
        sx, sy = w / W, h / H
        low = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)

        # 1. fit + dense meshes
        meshes, full_meshes = [], []
        skin_v = vertex_skin_weights()
        centers, widths = [], []
        tris = None
        for i, f in enumerate(faces):
            key = f.track_id if (state is not None and f.track_id is not None) else ("img", i)
            fitters = state.fitters if state is not None else {}
            fitter = fitters.get(key)
            if fitter is None:
                fitter = FaceFitter(hold_identity=state is not None)
                fitters[key] = fitter
            fit = fitter.fit(f.landmarks, f.blendshapes, H)
            dm = fit.mesh(self.levels)
            from faceplay.geometry.model import subdivision

            skin = (subdivision(self.levels).op @ skin_v).astype(np.float32)
            img_v = dm.vertices.copy()
            img_v[:, 1] = H - img_v[:, 1]
            full_meshes.append(img_v)
            rv = img_v * np.array([sx, sy, s], np.float32)
            meshes.append((rv, dm.normals, dm.ao, skin, dm.triangles))
            tris = dm.triangles
            centers.append(rv[:, :2].mean(0))
            widths.append(float(np.ptp(rv[:, 0])))
        t1 = time.perf_counter()

        # 2. G-buffer with the key light's soft shadow
        key = rig.key()
        gb = self._gpass().render((w, h), meshes, key.direction() if key is not None else None,
                                  softness=1.0 + 4.0 * (key.size if key is not None else 0.0))
        t2 = time.perf_counter()

        # 3. matte and proxy normals
        matte = self.matter(rgb, [f.landmarks for f in faces], (w, h))
        if state is not None:
            state.matte = matte if state.matte is None else 0.5 * matte + 0.5 * state.matte
            matte = state.matte
        fw = float(np.mean(widths))
        cov = gb.coverage
        feather = cv2.GaussianBlur(cov, (0, 0), max(0.03 * fw, 0.8)) * cov
        matte = np.maximum(matte, cov)  # the fitted face is always foreground
        pn = proxy_normals(np.maximum(matte, cov), 0.25 * fw)
        n = feather[..., None] * gb.normal + (1 - feather[..., None]) * pn
        n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6)
        t3 = time.perf_counter()

        # 4. estimate the original light (SH, albedo prior) on skin pixels
        lin = _TO_LINEAR[low]
        sel = (cov > 0.5) & (gb.skin > 0.5)
        if sel.sum() < 30:
            sel = cov > 0.5
        wts = gb.skin[sel].clip(0.05, 1.0)
        lum = lin[sel].mean(1)
        wts = wts * ((lum > 0.002) & (lum < 0.97))  # ignore clipped pixels
        coeffs = illum.fit_sh(gb.normal[sel], lin[sel], wts) if sel.sum() >= 10 else None
        if coeffs is None:
            msg = "face too small to estimate its lighting: the image is returned unchanged"
            log.warning(msg)
            return RelightResult(image=rgb.copy(), sh=None, n_faces=len(faces), warnings=[msg])
        rho = illum.albedo_prior(coeffs)
        sh_light = coeffs / rho[None, :]
        if state is not None:
            state.sh = sh_light if state.sh is None else state.sh_alpha * sh_light + (1 - state.sh_alpha) * state.sh
            sh_light = state.sh
        old = np.maximum(illum.eval_sh(sh_light, n), SHADING_FLOOR).astype(np.float32)
        t4 = time.perf_counter()

        # 5. the new light
        ctr = np.array([np.mean([c[0] for c in centers]), h - np.mean([c[1] for c in centers]), 0.0])
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        pos = np.stack([xx, h - yy, np.zeros_like(xx)], -1)
        ao = gb.ao * feather + (1 - feather)
        vis = gb.shadow * feather + (1 - feather)
        new, spec = illum.shade_rig(rig, n, pos, ao, vis, face_width=fw, face_center=ctr)
        if rig.sh is not None:
            new = new + illum.eval_sh(rig.sh, n).astype(np.float32) * rig.exposure

        if blend == "ratio":
            denom = old if rig.neutralize >= 1 else old ** rig.neutralize * _face_mean(old, cov) ** (1 - rig.neutralize)
            gain = new / denom
        elif blend == "multiply":
            gain = new / _face_mean(new, cov)
        else:  # add
            gain = 1.0 + new / _face_mean(old, cov) * 0.5
        gain = np.clip(gain, 0.0, GAIN_MAX)
        # light falls off beyond the face (hair, neck, body keep some of it)
        d = np.full((h, w), np.inf, np.float32)
        for c, wd in zip(centers, widths):
            d = np.minimum(d, np.hypot(xx - c[0], yy - c[1]) / max(wd, 1.0))
        fall = np.exp(-np.maximum(d - 0.6, 0) ** 2 / (2 * 1.2 ** 2)).astype(np.float32)
        region = np.clip(matte * fall, 0, 1)
        region = np.maximum(region, cov)
        spec = spec * (feather * gb.skin.clip(0.3, 1.0) + 0.25 * (1 - feather))[..., None] * region[..., None]
        gain = 1.0 + region[..., None] * (gain - 1.0)
        if state is not None:
            a = state.map_alpha
            if state.gain is not None and state.gain.shape == gain.shape:
                gain = a * gain + (1 - a) * state.gain
                spec = a * spec + (1 - a) * state.spec
            state.gain, state.spec = gain, spec
        t5 = time.perf_counter()

        out = self.composite(rgb, gain, spec, matte, strength, rig)
        t6 = time.perf_counter()
        self.timings = {"fit_ms": (t1 - t0) * 1e3, "render_ms": (t2 - t1) * 1e3, "matte_ms": (t3 - t2) * 1e3,
                        "estimate_ms": (t4 - t3) * 1e3, "shade_ms": (t5 - t4) * 1e3, "blend_ms": (t6 - t5) * 1e3}
        layers = None
        if keep_layers:
            layers = Layers(normals=n, face=cov, skin=gb.skin * cov, matte=matte, shadow=gb.shadow, old_shading=old,
                            new_shading=new, specular=spec, gain=gain, meshes=full_meshes, triangles=tris)
        return RelightResult(image=out, sh=sh_light, n_faces=len(faces), layers=layers)

    def estimate(self, rgb: np.ndarray, faces: list) -> Rig:
        """The estimated original lighting as a rig (relighting with it at strength 1 changes nothing)."""
        res = self.relight(rgb, faces, Rig(name="none", lights=()), strength=0.0)
        return res.original_rig()

    @staticmethod
    def composite(rgb: np.ndarray, gain: np.ndarray, spec: np.ndarray, matte: np.ndarray, strength: float, rig: Rig) -> np.ndarray:
        """Blend the low-resolution gain / highlight maps onto the full-resolution image."""
        H, W = rgb.shape[:2]
        g = np.power(np.maximum(gain, 0.0), 1.0 / _GAMMA).astype(np.float32)
        eff = 1.0 + strength * (g - 1.0)
        sp = (strength * np.power(np.clip(spec, 0, 1), 1.0 / _GAMMA)).astype(np.float32)
        touched = (np.abs(eff - 1.0).max(-1) > 1e-6) | (sp.max(-1) > 1e-6)
        out = rgb.copy()
        if rig.background > 0 and strength > 0:
            tint = _rig_tint(rig)
            bg = 1.0 + strength * rig.background * (tint - 1.0)
            mfull = cv2.resize(matte, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
            mix = (1 - mfull) * bg + mfull
            out = np.clip(out.astype(np.float32) * mix + 0.5, 0, 255).astype(np.uint8)
        if not touched.any():
            return out
        ys, xs = np.nonzero(touched)
        h, w = gain.shape[:2]
        x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, w)
        y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, h)
        X0, X1 = int(np.floor(x0 * W / w)), int(np.ceil(x1 * W / w))
        Y0, Y1 = int(np.floor(y0 * H / h)), int(np.ceil(y1 * H / h))
        X1, Y1 = min(X1, W), min(Y1, H)
        # resize the whole low-res map, then cut the box (keeps sampling exact at the borders)
        eff_full = cv2.resize(eff, (W, H), interpolation=cv2.INTER_LINEAR)[Y0:Y1, X0:X1]
        sp_full = cv2.resize(sp, (W, H), interpolation=cv2.INTER_LINEAR)[Y0:Y1, X0:X1]
        crop = out[Y0:Y1, X0:X1].astype(np.float32)
        crop *= eff_full
        np.clip(crop, 0, 255, out=crop)
        crop += sp_full * (255.0 - crop)
        out[Y0:Y1, X0:X1] = np.clip(crop + 0.5, 0, 255).astype(np.uint8)
        return out

    def _fade_out(self, rgb: np.ndarray, state: RelightState) -> RelightResult:
        """Video: a face was lost — ease the last gain back to neutral instead of jumping."""
        a = state.map_alpha
        state.gain = 1.0 + (1 - a) * (state.gain - 1.0)
        state.spec = (1 - a) * state.spec
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


def _face_mean(x: np.ndarray, cov: np.ndarray) -> np.ndarray:
    m = cov > 0.5
    if not m.any():
        return np.maximum(x.reshape(-1, x.shape[-1]).mean(0), 1e-3)
    return np.maximum(x[m].mean(0), 1e-3)


def _rig_tint(rig: Rig) -> np.ndarray:
    rad = sum((l.radiance for l in rig.lights), np.zeros(3))
    if not np.any(rad):
        return np.ones(3, np.float32)
    t = rad / rad.mean()
    return np.power(t, 1 / _GAMMA).astype(np.float32)
