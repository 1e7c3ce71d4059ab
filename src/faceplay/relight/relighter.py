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
from faceplay.relight.masks import Matter, proxy_normals, soft_blur, vertex_skin_weights

log = logging.getLogger(__name__)

BLEND_MODES = ("ratio", "multiply", "add")
_GAMMA = 2.2
_TO_LINEAR = ((np.arange(256) / 255.0) ** _GAMMA).astype(np.float32)
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
#: per-channel exponents of a darkening gain on skin (subsurface scattering keeps shadows warm)
_SSS = np.array([0.8, 1.0, 1.08], np.float32)
#: the shading of the original light is never taken below this (avoids exploding gains in black areas)
SHADING_FLOOR = 0.06
GAIN_MAX = 8.0
#: ``absolute`` rigs never lift the face's mean linear luminance above this (sRGB ~150)
ABSOLUTE_MAX_MEAN = 0.3


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
        return Rig(name="original", lights=(), description="the estimated original lighting", sh=self.sh,
                   exposure_mode="absolute")


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


class Relighter:
    """Relights portraits; reuse one instance (it keeps the GL pass and the matting model).

    >>> r = Relighter()
    >>> out = r.relight(rgb, faces, preset("left"), strength=0.8)
    >>> out.image
    """

    def __init__(self, render_max_side: int | None = None, subdivision: int = 1, matte: str = "auto",
                 video: bool = False, matte_every: int | None = None) -> None:
        #: the shading map's resolution (longer side): 320 for photos, 192 for video (speed)
        self.render_max_side = render_max_side or (192 if video else 320)
        #: video: run the person segmentation every n-th frame (the matte is smoothed in between)
        self.matte_every = matte_every or (3 if video else 1)
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
        H, W = rgb.shape[:2]
        if not faces:
            if state is not None and state.gain is not None:
                return self._fade_out(rgb, state)
            msg = "no face found: the image is returned unchanged"
            (log.debug if state is not None else log.warning)(msg)
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

        # 3. matte (at the render size) and proxy normals, on the foreground's bounding box only
        self._frame_no += 1
        if (state is not None and self._last_matte is not None and self._last_matte.shape == (h, w)
                and self._frame_no % self.matte_every):
            matte = self._last_matte
        else:
            matte = self.matter(low, [np.asarray(f.landmarks)[:, :2] * [sx, sy] for f in faces], (w, h))
            self._last_matte = matte
        cov = gb.coverage
        matte = np.maximum(matte, cov)  # the fitted face is always foreground
        if state is not None:
            if state.matte is not None and state.matte.shape == matte.shape:
                matte = 0.5 * matte + 0.5 * state.matte
            state.matte = matte
        fw = float(np.mean(widths))
        ys, xs = np.nonzero(matte > 0)
        y0, y1 = max(int(ys.min()) - 2, 0), min(int(ys.max()) + 3, h)
        x0, x1 = max(int(xs.min()) - 2, 0), min(int(xs.max()) + 3, w)
        B = (slice(y0, y1), slice(x0, x1))
        mt, cv = matte[B], cov[B]
        # 0 at the mesh border, 1 a little inside: face normals fade into proxy normals without a seam
        feather = np.clip(2.0 * soft_blur(cv, max(0.045 * fw, 0.8)) - 1.0, 0.0, 1.0) * cv
        pn = proxy_normals(mt, 0.25 * fw)
        # near the face, continue the face's own normals outwards (normalised convolution) so the
        # shading of hair / ears / neck joins the face's without a seam
        sig = max(0.12 * fw, 1.0)
        wsum = soft_blur(cv, sig)
        ext = soft_blur(np.ascontiguousarray(gb.normal[B] * cv[..., None]), sig) / np.maximum(wsum, 1e-4)[..., None]
        near = np.clip(3.0 * wsum, 0.0, 1.0)[..., None]
        pn = near * ext + (1 - near) * pn
        pn /= np.maximum(np.sqrt(np.einsum("...i,...i->...", pn, pn)), 1e-6)[..., None]
        f3 = feather[..., None]
        n = f3 * gb.normal[B] + (1 - f3) * pn
        n /= np.maximum(np.sqrt(np.einsum("...i,...i->...", n, n)), 1e-6)[..., None]
        t3 = time.perf_counter()

        # 4. estimate the original light (SH, albedo prior) on skin pixels
        sel = (cov > 0.5) & (gb.skin > 0.5)
        if sel.sum() < 30:
            sel = cov > 0.5
        idx = np.flatnonzero(sel)
        if idx.size > 3000:  # a regular subsample is plenty for 27 coefficients
            idx = idx[:: int(np.ceil(idx.size / 3000))]
        coeffs = None
        if idx.size >= 10:
            lin = _TO_LINEAR[low.reshape(-1, 3)[idx]] @ _LUMA[:, None]
            wts = gb.skin.reshape(-1)[idx].clip(0.05, 1.0)
            lum = lin[:, 0]
            wts = wts * ((lum > 0.002) & (lum < 0.97))  # ignore clipped pixels
            coeffs = illum.fit_sh(gb.normal.reshape(-1, 3)[idx], lin, wts)
        if coeffs is None:
            msg = "face too small to estimate its lighting: the image is returned unchanged"
            (log.debug if state is not None else log.warning)(msg)
            return RelightResult(image=rgb.copy(), sh=None, n_faces=len(faces), warnings=[msg])
        # albedo prior: skin of luminance SKIN_ALBEDO; the light is grey (its colour cast stays in the photo)
        sh_light = np.repeat(coeffs / illum.SKIN_ALBEDO, 3, axis=1)
        if state is not None:
            if state.sh is None:
                state.sh = sh_light
            else:
                a = np.array([state.sh_alpha[0]] + [state.sh_alpha[1]] * 3 + [state.sh_alpha[2]] * 5)[:, None]
                state.sh = a * sh_light + (1 - a) * state.sh
            sh_light = state.sh
        old = np.maximum(illum.eval_sh(sh_light.astype(np.float32), n), SHADING_FLOOR).astype(np.float32)
        t4 = time.perf_counter()

        # 5. the new light
        ctr = np.array([np.mean([c[0] for c in centers]), h - np.mean([c[1] for c in centers]), 0.0])
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        pos = np.stack([xx, h - yy, np.zeros_like(xx)], -1) if any(l.type == "point" for l in rig.lights) else None
        ao = gb.ao[B] * feather + (1 - feather)
        vis = gb.shadow[B] * feather + (1 - feather)
        new, spec = illum.shade_rig(rig, n, pos, ao, vis, face_width=fw, face_center=ctr)
        if rig.sh is not None:
            scale = rig.exposure if rig.exposure_mode == "absolute" else 1.0
            new = new + illum.eval_sh(rig.sh.astype(np.float32), n).astype(np.float32) * scale

        if blend == "ratio":
            denom = old if rig.neutralize >= 1 else old ** rig.neutralize * _face_mean(old, cv) ** (1 - rig.neutralize)
            gain_c = new / denom
        elif blend == "multiply":
            gain_c = new / _face_mean(new, cv)
        else:  # add
            gain_c = 1.0 + new / _face_mean(old, cv) * 0.5
        if rig.exposure_mode == "keep" and blend != "add":
            # keep the face's mean brightness (times rig.exposure): the light's shape changes, not the exposure;
            # in video the level follows slowly, so it neither flickers nor lags behind a real change
            fm = cv > 0.5
            if fm.any():
                m = float((gain_c[fm] @ _LUMA).mean())
                if state is not None:
                    state.level = m if state.level is None else 0.15 * m + 0.85 * state.level
                    m = state.level
                gain_c *= rig.exposure / max(m, 1e-3)
        yl = _TO_LINEAR[low[B]] @ _LUMA  # linear luminance of the crop
        if rig.exposure_mode == "absolute" and blend != "add":
            # the albedo prior cannot know the skin tone: never push the face's mean above a normal exposure
            fm = (cv > 0.5) & (gb.skin[B] > 0.5)
            if fm.sum() > 20:
                m_out = float((yl[fm] * (gain_c[fm] @ _LUMA)).mean())
                limit = max(ABSOLUTE_MAX_MEAN, float(yl[fm].mean()))  # lift at most to normal, never darken for it
                if m_out > limit:
                    gain_c *= limit / m_out
        np.clip(gain_c, 1.0 if blend == "add" else 0.0, GAIN_MAX, out=gain_c)
        # skin scatters red light into its shadows: where the new light darkens skin, red is darkened less
        dark = np.minimum(gain_c, 1.0)
        skin_w = (feather * gb.skin[B])[..., None]
        gain_c = gain_c + skin_w * (np.power(np.maximum(dark, 1e-4), _SSS) - dark)
        # hair, neck and body (proxy normals): a gentler, bounded version of the face's gain
        gain_c = f3 * gain_c + (1 - f3) * np.minimum(gain_c, 3.0) ** 0.9
        # light falls off beyond the face (hair, neck, body keep some of it)
        d = np.full(mt.shape, np.inf, np.float32)
        for c, wd in zip(centers, widths):
            d = np.minimum(d, np.hypot(xx - c[0], yy - c[1]) / max(wd, 1.0))
        fall = np.exp(-np.maximum(d - 1.0, 0) ** 2 / (2 * 1.2 ** 2)).astype(np.float32)
        # the face's full effect reaches a little beyond the mesh (forehead, hairline, jaw) where the matte
        # is soft (hair), then the matte and the fall-off take over
        region = np.maximum(np.clip(mt * mt * fall, 0, 1), np.minimum(near[..., 0], np.clip(4.0 * mt, 0, 1)))
        region = np.maximum(region, cv)[..., None]
        spec_c = spec * (feather * gb.skin[B].clip(0.3, 1.0) + 0.08 * (1 - feather))[..., None] * region
        gain = np.ones((h, w, 3), np.float32)
        g_c = 1.0 + region * (gain_c - 1.0)
        # guard against halos: outside the face's core nothing is lifted above the brightest relit skin
        # (the mesh border or a soft matte edge over a bright background, shiny hair)
        fsel = feather > 0.5
        if fsel.any():
            gl = g_c @ _LUMA
            ref = fsel & (gb.skin[B] > 0.5)  # skin only: teeth and eye whites may blow out legitimately
            ycap = float(np.percentile((yl * gl)[ref if ref.sum() > 20 else fsel], 97))
            # the brightest full-resolution pixel each low-res pixel (and its neighbours) stands for
            cand = (gl > 1.0) & (feather < 0.95)
            if cand.any():
                X0, X1 = int(x0 / sx), min(int(np.ceil(x1 / sx)), W)
                Y0, Y1 = int(y0 / sy), min(int(np.ceil(y1 / sy)), H)
                ymax = self._max_luma(rgb[Y0:Y1, X0:X1], (x1 - x0, y1 - y0))
                out_l = ymax * gl
            over = cand & (out_l > ycap) if cand.any() else cand
            if over.any():
                scale = np.maximum(ycap / np.maximum(out_l, 1e-6), 1.0 / np.maximum(gl, 1e-6))
                g_c = np.where(over[..., None], g_c * scale[..., None], g_c)
        gain[B] = g_c
        spec = np.zeros((h, w, 3), np.float32)
        spec[B] = spec_c
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
            def full(x, fill):
                o = np.full((h, w) + x.shape[2:], fill, np.float32)
                o[B] = x
                return o

            layers = Layers(normals=full(n, 0.0), face=cov, skin=gb.skin * cov, matte=matte, shadow=gb.shadow,
                            old_shading=full(old, 0.0), new_shading=full(new, 0.0), specular=spec, gain=gain,
                            meshes=full_meshes, triangles=tris)
        return RelightResult(image=out, sh=sh_light, n_faces=len(faces), layers=layers)

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
