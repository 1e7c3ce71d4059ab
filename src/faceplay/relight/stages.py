"""The stages of relighting one frame, each a function over one :class:`Work` record.

:meth:`faceplay.relight.relighter.Relighter.relight` runs them in order:
:func:`fit_meshes` → G-buffer (the relighter's GL pass) → :func:`matte_and_normals`
→ :func:`estimate_light` → :func:`shade` → :func:`gain_maps` → composite.
Everything is computed at the reduced render size (``w`` x ``h``) on the
foreground's bounding box ``B``; only the final blend touches full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np

from faceplay.relight import illum
from faceplay.relight.lights import Rig
from faceplay.relight.masks import proxy_normals, soft_blur, vertex_skin_weights

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
class Work:
    """What the stages of one frame compute and hand on."""

    rgb: np.ndarray  #: full-resolution input (H, W, 3) uint8
    low: np.ndarray  #: the input at render size (h, w, 3)
    s: float  #: render scale
    meshes: list = field(default_factory=list)  #: per face: (render-space vertices, normals, ao, skin, triangles)
    full_meshes: list = field(default_factory=list)  #: per face: full-resolution image-space vertices
    centers: list = field(default_factory=list)
    widths: list = field(default_factory=list)
    triangles: np.ndarray | None = None
    gb: Any = None  #: the G-buffer (normal, ao, skin, shadow, coverage)
    matte: np.ndarray | None = None
    box: tuple[slice, slice] | None = None  #: the foreground's bounding box B at render size
    feather: np.ndarray | None = None  #: 0 at the mesh border, 1 inside
    near: np.ndarray | None = None  #: weight of the face's own normals continued outwards
    normals: np.ndarray | None = None  #: face + proxy normals on B
    face_width: float = 0.0
    sh: np.ndarray | None = None  #: (9, 3) estimated original light
    old: np.ndarray | None = None  #: original shading on B
    new: np.ndarray | None = None  #: the rig's diffuse light on B
    rig_spec: np.ndarray | None = None  #: the rig's highlights on B
    gain: np.ndarray | None = None  #: (h, w, 3) gain map
    spec: np.ndarray | None = None  #: (h, w, 3) highlight map

    @property
    def size(self) -> tuple[int, int]:
        return self.low.shape[1], self.low.shape[0]

    @property
    def scale_xy(self) -> tuple[float, float]:
        H, W = self.rgb.shape[:2]
        return self.low.shape[1] / W, self.low.shape[0] / H


def prepare(rgb: np.ndarray, render_max_side: int) -> Work:
    """A work record with the input downscaled to the render size."""
    H, W = rgb.shape[:2]
    s = min(1.0, render_max_side / max(H, W))
    w, h = max(int(round(W * s)), 8), max(int(round(H * s)), 8)
    return Work(rgb=rgb, low=cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA), s=s)


def fit_meshes(k: Work, faces: list, fitters: dict, hold_identity: bool, levels: int) -> None:
    """Fit every face with the morphable model and build its dense mesh at render and full scale."""
    from faceplay.geometry.fit import FaceFitter
    from faceplay.geometry.model import subdivision

    H = k.rgb.shape[0]
    sx, sy = k.scale_xy
    skin_v = vertex_skin_weights()
    for i, f in enumerate(faces):
        key = f.track_id if (hold_identity and f.track_id is not None) else ("img", i)
        fitter = fitters.get(key)
        if fitter is None:
            fitter = fitters[key] = FaceFitter(hold_identity=hold_identity)
        dm = fitter.fit(f.landmarks, f.blendshapes, H).mesh(levels)
        skin = (subdivision(levels).op @ skin_v).astype(np.float32)
        img_v = dm.vertices.copy()
        img_v[:, 1] = H - img_v[:, 1]
        k.full_meshes.append(img_v)
        rv = img_v * np.array([sx, sy, k.s], np.float32)
        k.meshes.append((rv, dm.normals, dm.ao, skin, dm.triangles))
        k.triangles = dm.triangles
        k.centers.append(rv[:, :2].mean(0))
        k.widths.append(float(np.ptp(rv[:, 0])))


def matte_and_normals(k: Work, matte: np.ndarray, state) -> None:
    """Foreground matte (smoothed in video), its bounding box, and face normals blended into proxy normals."""
    gb = k.gb
    cov = gb.coverage
    matte = np.maximum(matte, cov)  # the fitted face is always foreground
    if state is not None:
        if state.matte is not None and state.matte.shape == matte.shape:
            matte = 0.5 * matte + 0.5 * state.matte
        state.matte = matte
    k.matte = matte
    w, h = k.size
    fw = k.face_width = float(np.mean(k.widths))
    ys, xs = np.nonzero(matte > 0)
    y0, y1 = max(int(ys.min()) - 2, 0), min(int(ys.max()) + 3, h)
    x0, x1 = max(int(xs.min()) - 2, 0), min(int(xs.max()) + 3, w)
    B = k.box = (slice(y0, y1), slice(x0, x1))
    mt, cv = matte[B], cov[B]
    # 0 at the mesh border, 1 a little inside: face normals fade into proxy normals without a seam
    k.feather = np.clip(2.0 * soft_blur(cv, max(0.045 * fw, 0.8)) - 1.0, 0.0, 1.0) * cv
    pn = proxy_normals(mt, 0.25 * fw)
    # near the face, continue the face's own normals outwards (normalised convolution) so the
    # shading of hair / ears / neck joins the face's without a seam
    sig = max(0.12 * fw, 1.0)
    wsum = soft_blur(cv, sig)
    ext = soft_blur(np.ascontiguousarray(gb.normal[B] * cv[..., None]), sig) / np.maximum(wsum, 1e-4)[..., None]
    near = k.near = np.clip(3.0 * wsum, 0.0, 1.0)[..., None]
    pn = near * ext + (1 - near) * pn
    pn /= np.maximum(np.sqrt(np.einsum("...i,...i->...", pn, pn)), 1e-6)[..., None]
    f3 = k.feather[..., None]
    n = f3 * gb.normal[B] + (1 - f3) * pn
    k.normals = n / np.maximum(np.sqrt(np.einsum("...i,...i->...", n, n)), 1e-6)[..., None]


def estimate_light(k: Work, state) -> bool:
    """The original light as SH on the skin pixels (albedo prior), smoothed in video; False when too few pixels."""
    gb = k.gb
    cov = gb.coverage
    sel = (cov > 0.5) & (gb.skin > 0.5)
    if sel.sum() < 30:
        sel = cov > 0.5
    idx = np.flatnonzero(sel)
    if idx.size > 3000:  # a regular subsample is plenty for 27 coefficients
        idx = idx[:: int(np.ceil(idx.size / 3000))]
    if idx.size < 10:
        return False
    lin = _TO_LINEAR[k.low.reshape(-1, 3)[idx]] @ _LUMA[:, None]
    wts = gb.skin.reshape(-1)[idx].clip(0.05, 1.0)
    lum = lin[:, 0]
    wts = wts * ((lum > 0.002) & (lum < 0.97))  # ignore clipped pixels
    coeffs = illum.fit_sh(gb.normal.reshape(-1, 3)[idx], lin, wts)
    if coeffs is None:
        return False
    # albedo prior: skin of luminance SKIN_ALBEDO; the light is grey (its colour cast stays in the photo)
    sh_light = np.repeat(coeffs / illum.SKIN_ALBEDO, 3, axis=1)
    if state is not None:
        if state.sh is None:
            state.sh = sh_light
        else:
            a = np.array([state.sh_alpha[0]] + [state.sh_alpha[1]] * 3 + [state.sh_alpha[2]] * 5)[:, None]
            state.sh = a * sh_light + (1 - a) * state.sh
        sh_light = state.sh
    k.sh = sh_light
    k.old = np.maximum(illum.eval_sh(sh_light.astype(np.float32), k.normals), SHADING_FLOOR).astype(np.float32)
    return True


def shade(k: Work, rig: Rig) -> None:
    """The rig's diffuse light and highlights on the foreground box."""
    gb, B = k.gb, k.box
    h = k.size[1]
    y0, y1, x0, x1 = B[0].start, B[0].stop, B[1].start, B[1].stop
    ctr = np.array([np.mean([c[0] for c in k.centers]), h - np.mean([c[1] for c in k.centers]), 0.0])
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    pos = np.stack([xx, h - yy, np.zeros_like(xx)], -1) if any(li.type == "point" for li in rig.lights) else None
    ao = gb.ao[B] * k.feather + (1 - k.feather)
    vis = gb.shadow[B] * k.feather + (1 - k.feather)
    new, spec = illum.shade_rig(rig, k.normals, pos, ao, vis, face_width=k.face_width, face_center=ctr)
    if rig.sh is not None:
        scale = rig.exposure if rig.exposure_mode == "absolute" else 1.0
        new = new + illum.eval_sh(rig.sh.astype(np.float32), k.normals).astype(np.float32) * scale
    k.new, k.rig_spec = new, spec


def gain_maps(k: Work, rig: Rig, blend: str, state, max_luma: Callable[[np.ndarray, tuple[int, int]], np.ndarray]) -> None:
    """New over old light → gain map (exposure rule, skin scattering, fall-off, halo guard) and highlight map."""
    gb, B, feather = k.gb, k.box, k.feather
    cv, mt = gb.coverage[B], k.matte[B]
    old, new = k.old, k.new
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
    yl = _TO_LINEAR[k.low[B]] @ _LUMA  # linear luminance of the crop
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
    f3 = feather[..., None]
    gain_c = f3 * gain_c + (1 - f3) * np.clip(gain_c, 0.0, 3.0) ** 0.9  # (clip: rounding can leave -1e-8)
    # light falls off beyond the face (hair, neck, body keep some of it)
    y0, y1, x0, x1 = B[0].start, B[0].stop, B[1].start, B[1].stop
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.full(mt.shape, np.inf, np.float32)
    for c, wd in zip(k.centers, k.widths):
        d = np.minimum(d, np.hypot(xx - c[0], yy - c[1]) / max(wd, 1.0))
    fall = np.exp(-np.maximum(d - 1.0, 0) ** 2 / (2 * 1.2 ** 2)).astype(np.float32)
    # the face's full effect reaches a little beyond the mesh (forehead, hairline, jaw) where the matte
    # is soft (hair), then the matte and the fall-off take over
    region = np.maximum(np.clip(mt * mt * fall, 0, 1), np.minimum(k.near[..., 0], np.clip(4.0 * mt, 0, 1)))
    region = np.maximum(region, cv)[..., None]
    spec_c = k.rig_spec * (feather * gb.skin[B].clip(0.3, 1.0) + 0.08 * (1 - feather))[..., None] * region
    g_c = 1.0 + region * (gain_c - 1.0)
    g_c = _halo_guard(k, g_c, yl, max_luma)
    w, h = k.size
    gain = np.ones((h, w, 3), np.float32)
    gain[B] = g_c
    spec = np.zeros((h, w, 3), np.float32)
    spec[B] = spec_c
    if state is not None:
        a = state.map_alpha
        if state.gain is not None and state.gain.shape == gain.shape:
            gain = a * gain + (1 - a) * state.gain
            spec = a * spec + (1 - a) * state.spec
        state.gain, state.spec = gain, spec
    k.gain, k.spec = gain, spec


def _halo_guard(k: Work, g_c: np.ndarray, yl: np.ndarray, max_luma) -> np.ndarray:
    """Outside the face's core nothing is lifted above the brightest relit skin
    (the mesh border or a soft matte edge over a bright background, shiny hair)."""
    gb, B, feather = k.gb, k.box, k.feather
    fsel = feather > 0.5
    if not fsel.any():
        return g_c
    gl = g_c @ _LUMA
    ref = fsel & (gb.skin[B] > 0.5)  # skin only: teeth and eye whites may blow out legitimately
    ycap = float(np.percentile((yl * gl)[ref if ref.sum() > 20 else fsel], 97))
    # the brightest full-resolution pixel each low-res pixel (and its neighbours) stands for
    cand = (gl > 1.0) & (feather < 0.95)
    if not cand.any():
        return g_c
    H, W = k.rgb.shape[:2]
    sx, sy = k.scale_xy
    y0, y1, x0, x1 = B[0].start, B[0].stop, B[1].start, B[1].stop
    X0, X1 = int(x0 / sx), min(int(np.ceil(x1 / sx)), W)
    Y0, Y1 = int(y0 / sy), min(int(np.ceil(y1 / sy)), H)
    out_l = max_luma(k.rgb[Y0:Y1, X0:X1], (x1 - x0, y1 - y0)) * gl
    over = cand & (out_l > ycap)
    if over.any():
        scale = np.maximum(ycap / np.maximum(out_l, 1e-6), 1.0 / np.maximum(gl, 1e-6))
        g_c = np.where(over[..., None], g_c * scale[..., None], g_c)
    return g_c


def _face_mean(x: np.ndarray, cov: np.ndarray) -> np.ndarray:
    m = cov > 0.5
    if not m.any():
        return np.maximum(x.reshape(-1, x.shape[-1]).mean(0), 1e-3)
    return np.maximum(x[m].mean(0), 1e-3)
