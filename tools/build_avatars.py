#!/usr/bin/env python
"""Build faceplay's built-in avatars procedurally and export them as glTF 2.0 .glb.

    python tools/build_avatars.py            # writes src/faceplay/avatar/assets/*.glb
    python tools/build_avatars.py --only toon --out /tmp

Every avatar is numpy geometry in MediaPipe's canonical face space
(centimetres): head, eyeballs, eyelids, brows, lips, mouth, teeth, tongue and
character parts (ears, hair, horns, antenna...). A parametric rig maps the 52
ARKit blendshape weights (plus a few shape options) to vertex positions; each
morph target is ``rig(one-hot) - rig(neutral)``. Optional parts (hair styles,
beard) are separate primitives tagged in ``asset.extras`` so the runtime can
switch them from face attributes.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from faceplay.avatar.rigkit import (  # noqa: E402
    ARKIT, HeadShape, brushed_height, cone, ellipsoid, eye_texture, gradient_texture, grid_indices, height_to_normal,
    rot_x, rot_y, smoothstep, sphere_dirs, strand_height, tube, tube_uv, worley_height,
)
from faceplay.render.gltf import write_glb  # noqa: E402
from faceplay.render.material import Material, hex_color  # noqa: E402
from faceplay.render.mesh import MeshData, vertex_normals  # noqa: E402

#: Extra (non-ARKit) morph targets: head shape options driven by face attributes.
SHAPE_TARGETS = ("shape_round", "shape_square", "shape_long", "shape_heart")
OUT = ROOT / "src" / "faceplay" / "avatar" / "assets"


@dataclass
class Char:
    """A character definition: head shape, feature layout and materials."""

    name: str
    title: str
    head: HeadShape
    materials: dict[str, Material]
    eye_x: float = 3.3
    eye_y: float = 2.8
    eye_r: float = 1.8
    eye_embed: float = 0.45
    lid_open: float = 40.0
    lid_low: float = -48.0
    mouth_y: float = -4.7
    mouth_w: float = 2.6
    brow_y: float = 5.6
    brow_r: float = 0.32
    lip_r: tuple[float, float] = (0.28, 0.34)
    lashes: bool = False
    extras: list = field(default_factory=list)  # callables(rig, P) -> list of parts
    options: dict = field(default_factory=dict)
    jaw_deg: float = 26.0


def neutral() -> dict[str, float]:
    return {k: 0.0 for k in (*ARKIT, *SHAPE_TARGETS)}


class Rig:
    """Evaluates a character's geometry for one parameter set."""

    def __init__(self, ch: Char) -> None:
        self.ch = ch

    # -- head shape under the shape options -------------------------------------
    def head(self, P) -> HeadShape:
        h = self.ch.head
        r = h.r.copy()
        r[0] *= 1 + 0.10 * P["shape_round"] + 0.04 * P["shape_square"] - 0.06 * P["shape_long"] + 0.04 * P["shape_heart"]
        r[1] *= 1 - 0.05 * P["shape_round"] + 0.10 * P["shape_long"]
        return HeadShape(h.c, r, h.p + 0.6 * P["shape_square"],
                         h.jaw_taper + 0.18 * P["shape_heart"] - 0.12 * P["shape_square"] - 0.05 * P["shape_round"],
                         h.crown + 0.12 * P["shape_heart"], h.bumps)

    # -- skin deformation (everything attached to the face) ----------------------
    def jaw_weight(self, p):
        ch = self.ch
        return smoothstep(ch.mouth_y + 0.3, ch.mouth_y - 2.2, p[:, 1]) * smoothstep(ch.head.c[2] - 2, ch.head.c[2] + 3, p[:, 2])

    def jaw(self, p, w, P, close=0.0):
        """Rotate points about the jaw hinge by weight ``w`` (N,)."""
        ch = self.ch
        pivot = np.array([0.0, ch.mouth_y + 2.5, ch.head.c[2] - 3.0])
        ang = math.radians(ch.jaw_deg) * (P["jawOpen"] - close * P["mouthClose"])
        out = p.copy()
        if abs(ang) > 0:
            rel = p - pivot
            a = ang * w
            c, s = np.cos(a), np.sin(a)
            y = rel[:, 1] * c - rel[:, 2] * s
            z = rel[:, 1] * s + rel[:, 2] * c
            out[:, 1], out[:, 2] = y + pivot[1], z + pivot[2]
        out[:, 2] += 0.9 * P["jawForward"] * w
        out[:, 0] += 1.0 * (P["jawLeft"] - P["jawRight"]) * w
        return out

    def skin(self, p, P, wj=None):
        """Deform face-attached points (cheeks, nose, mouth surroundings, jaw)."""
        ch = self.ch
        q = p.copy()
        x, y = p[:, 0], p[:, 1]
        front = smoothstep(ch.head.c[2], ch.head.c[2] + 4, p[:, 2])
        my = ch.mouth_y
        for s, side in ((1, "Left"), (-1, "Right")):
            g = np.exp(-(((x - s * 4.6) / 2.4) ** 2 + ((y - (my + 1.0)) / 2.4) ** 2)) * front
            q[:, 0] += s * 0.9 * P["cheekPuff"] * g
            q[:, 2] += 0.7 * P["cheekPuff"] * g
            gc = np.exp(-(((x - s * 4.0) / 2.0) ** 2 + ((y - (ch.eye_y - 2.8)) / 1.6) ** 2)) * front
            q[:, 1] += 0.45 * P[f"cheekSquint{side}"] * gc + 0.35 * P[f"mouthSmile{side}"] * gc
            q[:, 2] += 0.25 * P[f"mouthSmile{side}"] * gc
            gn = np.exp(-(((x - s * 1.3) / 1.2) ** 2 + ((y - (my + 3.5)) / 1.4) ** 2)) * front
            q[:, 1] += 0.45 * P[f"noseSneer{side}"] * gn
            gm = np.exp(-(((x - s * ch.mouth_w) / 1.3) ** 2 + ((y - my) / 1.3) ** 2)) * front
            q[:, 1] += (0.5 * P[f"mouthSmile{side}"] - 0.5 * P[f"mouthFrown{side}"]) * gm
            q[:, 0] += s * (0.35 * P[f"mouthSmile{side}"] + 0.4 * P[f"mouthStretch{side}"]) * gm
        gp = np.exp(-((x / 2.6) ** 2 + ((y - my) / 1.8) ** 2)) * front
        q[:, 2] += (0.9 * P["mouthPucker"] + 0.6 * P["mouthFunnel"]) * gp
        q[:, 0] += 0.6 * (P["mouthLeft"] - P["mouthRight"]) * gp
        if wj is None:
            wj = self.jaw_weight(p)
        return self.jaw(q, wj, P)

    # -- parts ---------------------------------------------------------------------
    def head_mesh(self, P):
        d, uv, idx = sphere_dirs(46, 64)
        pos = self.head(P).surface(d)
        return pos, uv * np.array([3.0, 1.5], np.float32), idx

    def eyes(self, P):
        ch = self.ch
        head = self.head(P)
        parts = []
        for s, side in ((1, "Left"), (-1, "Right")):
            sp = head.project(s * ch.eye_x, ch.eye_y)[0]
            n = head.normal_at(sp[None])[0]
            c = sp - n * ch.eye_r * ch.eye_embed
            c[2] -= 0.0
            # eyeball
            d, uv, idx = sphere_dirs(18, 28, pole=(0, 0, 1))
            yaw = math.radians(28) * (P[f"eyeLookOut{side}"] - P[f"eyeLookIn{side}"]) * s
            pitch = math.radians(22) * (P[f"eyeLookUp{side}"] - P[f"eyeLookDown{side}"])
            R = rot_y(yaw) @ rot_x(-pitch)
            ball = (d * ch.eye_r) @ R.T + c
            parts.append((f"eye{side}", "eye", ball, uv, idx))
            # lids: shells of radius 1.1 r; elevation e from the eye's horizontal plane
            up_edge = ch.lid_open + 22 * P[f"eyeWide{side}"] - 10 * P[f"eyeSquint{side}"] + 8 * P[f"eyeLookUp{side}"] \
                - 16 * P[f"eyeLookDown{side}"] - (ch.lid_open + 10) * P[f"eyeBlink{side}"]
            lo_edge = ch.lid_low + 12 * P[f"eyeSquint{side}"] + 8 * P[f"cheekSquint{side}"] + (-ch.lid_low - 12) * P[f"eyeBlink{side}"] \
                - 6 * P[f"eyeWide{side}"]
            rl = ch.eye_r * 1.1
            beta = np.radians(np.linspace(-100, 100, 19))
            for lid, e0, e1 in (("Upper", 100.0, up_edge), ("Lower", -100.0, lo_edge)):
                es = np.radians(np.linspace(e0, e1, 9))
                E, B = np.meshgrid(es, beta, indexing="ij")
                dd = np.stack([np.cos(E) * np.sin(B), np.sin(E), np.cos(E) * np.cos(B)], -1).reshape(-1, 3)
                pos = c + dd * rl
                uvl = np.stack([np.repeat(np.linspace(0, 1, 9), 19), np.tile(np.linspace(0, 1, 19), 9)], -1)
                ix = grid_indices(9, 19)
                if lid == "Lower":
                    ix = ix.reshape(-1, 3)[:, ::-1].reshape(-1)
                parts.append((f"lid{lid}{side}", "lid", pos, uvl, ix))
                if lid == "Upper" and ch.lashes:
                    edge = pos.reshape(9, 19, 3)[-1][3:-3]
                    nn = (edge - c) / np.linalg.norm(edge - c, axis=1, keepdims=True)
                    tp, ti = tube(edge + nn * 0.05, np.linspace(0.07, 0.16, len(edge)) if s > 0 else np.linspace(0.16, 0.07, len(edge)),
                                  nn, sides=6)
                    parts.append((f"lash{side}", "lash", tp, tube_uv(len(edge), 6, False), ti))
        return parts

    def brows(self, P):
        ch = self.ch
        head = self.head(P)
        parts = []
        for s, side in ((1, "Left"), (-1, "Right")):
            t = np.linspace(0, 1, 14)
            x = s * (ch.eye_x - 1.9 + 3.8 * t)
            inner = 1 - t
            outer = t
            y = ch.brow_y + 0.45 * np.sin(np.pi * t) \
                - (0.55 + 0.35 * inner) * P[f"browDown{side}"] \
                + 0.9 * inner * P["browInnerUp"] + 0.8 * outer * P[f"browOuterUp{side}"] \
                + 0.35 * P[f"eyeWide{side}"] - 0.2 * P[f"eyeSquint{side}"]
            x = x - s * 0.3 * P[f"browDown{side}"] * inner
            sp = head.project(x, y)
            n = head.normal_at(sp)
            r = ch.brow_r * (0.75 + 0.45 * np.sin(np.pi * (0.15 + 0.7 * t)))
            pos, idx = tube(sp + n * 0.12, r, n, sides=8, flat=0.45)
            parts.append((f"brow{side}", "brow", pos, tube_uv(len(t), 8, False), idx))
        return parts

    def mouth(self, P):
        """Lips, mouth interior, teeth and tongue."""
        ch = self.ch
        head = self.head(P)
        NT = 25
        t = np.linspace(0, 1, NT)
        wl = smoothstep(0.3, 0.7, t)  # left-side weight along the mouth (t=1 at +x)
        wr = 1 - wl

        def side(name):
            return wr * P[f"{name}Right"] + wl * P[f"{name}Left"]

        w = ch.mouth_w
        cx = {}
        cy = {}
        for s, sd in ((1, "Left"), (-1, "Right")):
            cx[sd] = s * (w + 0.8 * P[f"mouthSmile{sd}"] + 0.7 * P[f"mouthStretch{sd}"] + 0.3 * P[f"mouthDimple{sd}"]
                          - 1.2 * P["mouthPucker"] - 0.9 * P["mouthFunnel"] - 0.35 * P[f"mouthPress{sd}"]) \
                + 0.9 * (P["mouthLeft"] - P["mouthRight"])
            cy[sd] = ch.mouth_y + 1.5 * P[f"mouthSmile{sd}"] - 1.1 * P[f"mouthFrown{sd}"] - 0.3 * P[f"mouthStretch{sd}"] \
                + 0.3 * P["mouthShrugUpper"] + 0.2 * P[f"mouthDimple{sd}"] + 0.15 * P[f"mouthPress{sd}"]
        bx = cx["Right"] + (cx["Left"] - cx["Right"]) * t
        by = cy["Right"] + (cy["Left"] - cy["Right"]) * t
        bell = np.sin(np.pi * t) ** 0.7
        ua = 0.04 + 0.55 * side("mouthUpperUp") + 0.55 * P["mouthFunnel"] + 0.15 * P["mouthPucker"]
        la = 0.04 + 0.75 * side("mouthLowerDown") + 0.55 * P["mouthFunnel"] + 0.15 * P["mouthPucker"] + 0.25 * side("mouthStretch")
        ux, uy = bx.copy(), by + ua * bell - 0.25 * P["mouthRollUpper"] * bell
        lx, ly = bx.copy(), by - la * bell + 0.35 * P["mouthShrugLower"] * bell + 0.25 * P["mouthRollLower"] * bell
        # a smile curves the line (corners up relative to the middle) even when symmetric
        protrude = 1.0 * P["mouthPucker"] + 0.7 * P["mouthFunnel"]
        s_bell = np.sin(np.pi * t) ** 0.5
        wU = 0.3 * (1 - s_bell)
        wL = 0.3 + 0.7 * s_bell

        def surf(x2, y2, wj, off, close=1.0):
            sp = head.project(x2, y2)
            n = head.normal_at(sp)
            q = self.skin(sp, P, wj=np.zeros(len(sp)))  # cheeks/pucker field without the jaw
            q = q + n * off
            q[:, 2] += protrude * np.exp(-((x2 / 2.6) ** 2)) * 0.6
            q = self.jaw(q, wj, P, close=close)
            return q, n

        U3, nU = surf(ux, uy, wU, 0.0)
        L3, nL = surf(lx, ly, wL, 0.0)
        parts = []
        # interior: rows between the upper and lower curves (re-projected so they stay on the surface)
        NR = 7

        def interior(svals, off, t_sel=slice(None)):
            rows = []
            for sv in svals:
                x2 = ux + (lx - ux) * sv
                y2 = uy + (ly - uy) * sv
                q, _ = surf(x2[t_sel], y2[t_sel], (wU + (wL - wU) * sv)[t_sel], off)
                rows.append(q)
            return np.stack(rows)

        inner = interior(np.linspace(0, 1, NR), 0.12)
        uv_in = np.stack([np.repeat(np.linspace(0, 1, NR), NT), np.tile(t, NR)], -1)
        parts.append(("mouthInterior", "mouth", inner.reshape(-1, 3), uv_in, grid_indices(NR, NT)))
        gap = np.linalg.norm(U3[NT // 2] - L3[NT // 2])
        sel = slice(4, NT - 4)
        nt = NT - 8
        fu = min(0.42, 0.75 / max(gap, 1e-3))
        fl = min(0.28, 0.5 / max(gap, 1e-3))
        up = interior(np.linspace(0, fu, 3), 0.2, sel)
        lo = interior(np.linspace(1 - fl, 1, 3), 0.2, sel)
        uvt = np.stack([np.repeat(np.linspace(0, 1, 3), nt), np.tile(np.linspace(0, 1, nt), 3)], -1)
        ti = grid_indices(3, nt)
        parts.append(("teethUpper", "teeth", up.reshape(-1, 3), uvt, ti))
        parts.append(("teethLower", "teeth", lo.reshape(-1, 3), uvt, ti))
        # tongue: a flattened ellipsoid behind the lower mouth that comes forward with the jaw
        mid_sp = head.project(np.array([0.0]), np.array([ch.mouth_y - 0.3]))
        mid_n = head.normal_at(mid_sp)[0]
        tc = mid_sp[0] - mid_n * 1.5 + mid_n * (0.9 * P["jawOpen"] + 0.4 * P["mouthFunnel"]) \
            + np.array([0.0, -1.3, 2.2]) * P["tongueOut"] + np.array([0.0, 0.0, 0.0])
        tr = np.array([1.25, 0.42, 1.15]) * np.array([1.0 - 0.2 * P["tongueOut"], 1.0, 1.0 + 0.4 * P["tongueOut"]])
        tp, tuv, tix = ellipsoid(tc, tr, 12, 18, pole=(0, 0, 1))
        tp = self.jaw(tp, np.ones(len(tp)), P)
        parts.append(("tongue", "tongue", tp, tuv, tix))
        # lips: one closed tube around the opening
        ring = np.vstack([U3, L3[::-1][1:-1]])
        nring = np.vstack([nU, nL[::-1][1:-1]])
        ru = ch.lip_r[0] * (1 - 0.55 * P["mouthRollUpper"] - 0.25 * P["mouthPressLeft"] - 0.25 * P["mouthPressRight"]) \
            * (1 + 0.35 * P["mouthPucker"] + 0.2 * P["mouthFunnel"])
        rl = ch.lip_r[1] * (1 - 0.55 * P["mouthRollLower"] - 0.25 * P["mouthPressLeft"] - 0.25 * P["mouthPressRight"]) \
            * (1 + 0.35 * P["mouthPucker"] + 0.2 * P["mouthFunnel"] + 0.2 * P["mouthShrugLower"])
        taper = np.concatenate([np.sin(np.pi * t) ** 0.6, np.sin(np.pi * t[::-1][1:-1]) ** 0.6]) * 0.8 + 0.2
        radii = np.concatenate([np.full(NT, ru), np.full(NT - 2, rl)]) * taper
        lp, li = tube(ring + nring * radii[:, None] * 0.55, radii, nring, sides=10, closed=True, flat=0.8)
        parts.append(("lips", "lips", lp, tube_uv(len(ring), 10, True)[: len(lp)], li))
        return parts

    def build(self, P):
        """All parts: list of (name, material key, positions, uvs, indices)."""
        pos, uv, idx = self.head_mesh(P)
        pos = self.skin(pos, P)
        parts = [("head", "skin", pos, uv, idx)]
        parts += self.eyes(P)
        parts += self.brows(P)
        parts += self.mouth(P)
        for fn in self.ch.extras:
            parts += fn(self, P)
        return parts


# ----------------------------------------------------------------------------- character parts
def shell_part(name, mat, mask_fn, offset, jaw=False, nlat=46, nlon=64):
    """A shell over the head where ``mask_fn(p) > 0`` (hair caps, beards), tapered to the skin at its edge."""

    def fn(rig: Rig, P):
        d, uv, idx = sphere_dirs(nlat, nlon)
        head = rig.head(P)
        p = head.surface(d)
        m = mask_fn(rig.head(neutral()).surface(d), rig.ch)  # topology fixed by the neutral head
        n = vertex_normals(p, idx).astype(np.float64)
        # inside the mask: lifted (tapering to the edge); just outside: tucked under the skin, so the
        # visible border is the smooth line where the shell enters the head.
        # (a smoothstep rise keeps the rim thin where the mask crosses zero, so no sawtooth shows)
        x = np.clip(m / 0.6, 0, 1)
        lift = np.where(m > 0, 0.05 + offset * x * x * (3 - 2 * x), -1.2 * np.clip(-m / 0.25, 0, 1) + 0.05)
        q = p + n * lift[:, None]
        tri = idx.reshape(-1, 3)
        keep = (m[tri] > -0.45).all(axis=1)
        tri = tri[keep]
        used = np.unique(tri)
        remap = -np.ones(len(p), np.int64)
        remap[used] = np.arange(len(used))
        q = q[used]
        q = rig.skin(q, P) if jaw else q
        return [(name, mat, q, uv[used] * np.array([3, 2], np.float32), remap[tri].reshape(-1).astype(np.uint32))]

    return fn


def _hairline(p, ch, front, side, back, fringe=0.0):
    """Signed distance-like mask: positive above a hairline that runs from ``front`` (y at the
    forehead) over ``side`` (above the ears) to ``back`` (nape), by azimuth around the head."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    ang = np.abs(np.arctan2(x, z - ch.head.c[2]))  # 0 = front, pi = back
    line = np.interp(ang, [0.0, 0.75, 1.2, 1.6, 2.2, np.pi], [front, front - 0.5, max(side, front - 3.0), side, back + 1.0, back])
    line = line - fringe * np.exp(-(x / 2.2) ** 2) * (ang < 1.0)
    return (y - line) / 1.0


def hair_short(p, ch):
    return _hairline(p, ch, 6.7, 3.6, -4.5)


def hair_long(p, ch):
    return _hairline(p, ch, 7.0, -6.5, -11.0, fringe=0.8)


def hair_curtain(rig: Rig, P):
    """Long hair falling behind and beside the head down to the shoulders (a double-sided sheet).

    The sheet ends in rounded locks of uneven length that curl inwards (no straight cut), and
    its front edges turn in towards the cheeks, so its inner side is not seen from the front.
    """
    h = rig.head(P)
    th = np.linspace(0.95, 2 * np.pi - 0.95, 48)  # 0 = front; leaves the face free
    n_rows = 22
    t = np.linspace(0.0, 1.0, n_rows)
    locks = 1.6 * np.abs(np.sin(th * 3.5)) + 0.8 * np.abs(np.sin(th * 7.0 + 0.6))  # uneven lock lengths
    edge = np.clip(1.0 - np.minimum(th - 0.95, 2 * np.pi - 0.95 - th) / 0.5, 0.0, 1.0)  # 1 at the front edges
    rows = []
    for k in range(n_rows):
        y = 7.0 + (-16.0 + locks - 7.0) * t[k]  # per lock: from the crown down to its own end
        below = np.clip((h.c[1] - h.r[1] * 0.35 - y) / 8.0, 0, 1)
        flare = 0.9 + 1.6 * below ** 1.5
        top = np.sqrt(np.clip(1.0 - ((y - h.c[1]) / h.r[1]) ** 2, 0.25, 1.0))
        top = np.where(y > h.c[1], top, 1.0)
        ws = np.array([h.width_scale(min(v, h.c[1])) for v in y])
        rx = h.r[0] * ws * np.where(y > h.c[1] - h.r[1] * 0.5, 0.99, 0.95) * top + flare
        rz = h.r[2] * 0.98 * top + flare
        curl = 1.0 - 0.12 * t[k] ** 6  # the last rows turn in under the ends
        hug = 1.0 - 0.10 * edge * below  # front edges lean in towards the cheeks and neck
        wave = 0.25 * np.sin(th * 9 + y * 0.4)
        r_x, r_z = (rx + wave) * curl * hug, (rz + wave) * curl * hug
        rows.append(np.stack([r_x * np.sin(th), y, h.c[2] + r_z * np.cos(th)], -1))
    pos = np.concatenate(rows)
    uv = np.stack([np.tile(np.linspace(0, 6, len(th)), n_rows), np.repeat(np.linspace(0, 4, n_rows), len(th))], -1)
    idx = grid_indices(n_rows, len(th)).reshape(-1, 3)[:, ::-1].reshape(-1)
    return [("hair_long_back", "hairSheet", pos, uv.astype(np.float32), idx)]


def beard_mask(p, ch):
    y, z, x = p[:, 1], p[:, 2], p[:, 0]
    below = (ch.mouth_y + 1.6 - y) / 1.0
    front = (z - (ch.head.c[2] - 1.0)) / 1.5
    mouth_hole = ((x / (ch.mouth_w + 1.2)) ** 2 + ((y - ch.mouth_y) / 1.1) ** 2) - 1.0
    return np.minimum(np.minimum(below, front), mouth_hole * 2.0)


def nose_part(center_y, radii, mat="skin", dz=0.0):
    def fn(rig: Rig, P):
        head = rig.head(P)
        sp = head.project(np.array([0.0]), np.array([center_y]))[0]
        c = sp + np.array([0, 0, radii[2] * 0.45 + dz])
        p, uv, idx = ellipsoid(c, radii, 12, 16)
        return [("nose", mat, rig.skin(p, P), uv, idx)]

    return fn


def ears_part(kind: str, mat: str, inner_mat: str | None = None):
    def fn(rig: Rig, P):
        h = rig.head(P)
        out = []
        for s, sd in ((1, "Left"), (-1, "Right")):
            if kind == "human":
                c = np.array([s * h.r[0] * h.width_scale(1.0) * 0.97, 1.0, h.c[2] + 0.6])
                p, uv, idx = ellipsoid(c, (0.9, 2.6, 1.7), 10, 14, rot=rot_y(s * 0.35))
            elif kind == "round":
                c = h.c + np.array([s * h.r[0] * 0.72, h.r[1] * 0.78, -0.5])
                p, uv, idx = ellipsoid(c, (2.7, 2.7, 1.1), 12, 16, rot=np.eye(3))
                out.append((f"ear{sd}", mat, p, uv, idx))
                if inner_mat:
                    p2, uv2, idx2 = ellipsoid(c + np.array([0, -0.1, 0.75]), (1.7, 1.7, 0.5), 10, 14)
                    out.append((f"earInner{sd}", inner_mat, p2, uv2, idx2))
                continue
            elif kind == "bolt":
                c = np.array([s * (h.r[0] * 0.98 + 0.2), 1.0, h.c[2] + 0.5])
                p, uv, idx = ellipsoid(c, (1.2, 2.3, 2.3), 10, 16, pole=(1, 0, 0))
            out.append((f"ear{sd}", mat, p, uv, idx))
        return out

    return fn


def antenna_part(rig: Rig, P):
    h = rig.head(P)
    top = h.surface(np.array([[0.0, 1.0, 0.0]]))[0]
    p1, uv1, i1 = cone(top - [0, 0.5, 0], top + [0, 4.5, 0], 0.35, sides=10, rings=4)
    p2, uv2, i2 = ellipsoid(top + [0, 5.0, 0], (0.9, 0.9, 0.9), 10, 14)
    return [("antenna", "metalDark", p1, uv1, i1), ("antennaTip", "glowRed", p2, uv2, i2)]


def horns_part(rig: Rig, P):
    h = rig.head(P)
    out = []
    for s, sd in ((1, "Left"), (-1, "Right")):
        base = h.surface(np.array([[s * 0.45, 0.85, -0.25]]) / np.linalg.norm([0.45, 0.85, -0.25]))[0]
        p, uv, idx = cone(base - [s * 0.3, 0.5, 0], base + [s * 2.2, 5.0, -2.0], 1.25, sides=12, rings=8, bend=(s * 1.2, -0.5, -1.5))
        out.append((f"horn{sd}", "horn", p, uv, idx))
    # back spikes
    for k, a in enumerate(np.radians([70, 100, 130, 160])):
        d = np.array([0.0, math.cos(a - 0.3), -math.sin(a - 0.3)])
        b = h.surface(d[None] / np.linalg.norm(d))[0]
        p, uv, idx = cone(b - d * 0.5, b + d * (2.4 - 0.3 * k), 0.9 - 0.1 * k, sides=8, rings=3)
        out.append((f"spike{k}", "horn", p, uv, idx))
    return out


def nostrils_part(rig: Rig, P):
    h = rig.head(P)
    out = []
    for s, sd in ((1, "Left"), (-1, "Right")):
        sp = h.project(np.array([s * 1.0]), np.array([rig.ch.mouth_y + 2.3]))[0]
        p, uv, idx = ellipsoid(sp + [0, 0, -0.05], (0.45, 0.22, 0.3), 8, 12)
        out.append((f"nostril{sd}", "mouth", rig.skin(p, P), uv, idx))
    return out


def muzzle_mask(p, ch):
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    outer = 1.0 - ((x / 4.6) ** 2 + ((y - (ch.mouth_y + 1.2)) / 3.4) ** 2)
    hole = ((x / (ch.mouth_w + 0.7)) ** 2 + ((y - ch.mouth_y) / 0.8) ** 2) - 1.0
    return np.minimum(np.minimum(outer * 3.0, hole * 2.0), (z - ch.head.c[2]) / 2.0)


def muzzle_part(rig: Rig, P):
    ch = rig.ch
    h = rig.head(P)
    sp = h.project(np.array([0.0]), np.array([ch.mouth_y + 1.6]))[0]
    p, uv, idx = ellipsoid(sp + [0, 0, -1.2], (4.3, 2.9, 2.6), 16, 20, pole=(0, 0, 1))
    # keep the muzzle behind the mouth: it is the light fur patch around it
    p = rig.skin(p, P)
    return [("muzzle", "muzzle", p, uv, idx)]


# ----------------------------------------------------------------------------- characters
def characters() -> list[Char]:
    brushed = height_to_normal(brushed_height(), 3.0)
    leather = height_to_normal(worley_height(cells=420), 1.6)
    fur = height_to_normal(strand_height(), 3.5)
    hairtex = height_to_normal(strand_height(seed=7, along=20), 3.0)
    lip_gloss = dict(clearcoat=1.0, clearcoat_roughness=0.1)

    def common(skin: Material, eye_rgb, eye_kind="round", lid=None, brow=None, lips=None, mouth="#3a0d12"):
        return {
            "skin": skin,
            "eye": Material("eye", (1, 1, 1, 1), 0.0, 0.12, base_color_texture=eye_texture(eye_rgb, eye_kind), clearcoat=1.0,
                            clearcoat_roughness=0.02),
            "lid": lid or skin,
            "brow": brow or Material("brow", hex_color("#3b2a20"), 0.0, 0.7, normal_texture=hairtex, normal_scale=0.6),
            "lips": lips or skin,
            "mouth": Material("mouth", hex_color(mouth), 0.0, 0.6),
            "teeth": Material("teeth", hex_color("#f4f1e8"), 0.0, 0.25, clearcoat=0.6),
            "tongue": Material("tongue", hex_color("#d9646e"), 0.0, 0.45, clearcoat=0.4),
            "lash": Material("lash", hex_color("#15100e"), 0.0, 0.5),
        }

    # 1. toon: glossy plastic human
    toon_skin = Material("skin", hex_color("#e0ac8c"), 0.0, 0.38, clearcoat=0.7, clearcoat_roughness=0.12)
    toon_m = common(toon_skin, (0.35, 0.22, 0.12), lips=Material("lips", hex_color("#c25b5b"), 0.0, 0.3, **lip_gloss))
    # strands as a soft sheen, not glitter: a light normal map, a rougher coat
    toon_m["hair"] = Material("hair", hex_color("#3b2417"), 0.0, 0.45, normal_texture=hairtex, normal_scale=0.3, clearcoat=0.35,
                              clearcoat_roughness=0.35)
    toon_m["hairSheet"] = toon_m["hair"].copy(double_sided=True)
    toon = Char(
        "toon", "Toon human (glossy plastic)",
        HeadShape((0, 1.8, -1.8), (9.6, 11.8, 10.4), 2.0, jaw_taper=0.18, crown=0.08, bumps=[]),
        toon_m, eye_r=2.05, eye_x=3.45, eye_y=2.6, eye_embed=0.5, lashes=True, lip_r=(0.3, 0.38),
        extras=[nose_part(-0.9, (1.05, 0.85, 0.9)), ears_part("human", "skin"),
                shell_part("hair_short", "hair", hair_short, 1.3, nlat=64, nlon=112), shell_part("hair_long", "hair", hair_long, 1.6), hair_curtain,
                shell_part("beard", "hair", beard_mask, 0.7, jaw=True)],
        options={"hair": {"short": ["hair_short"], "long": ["hair_long", "hair_long_back"], "none": []}, "beard": {"yes": ["beard"], "no": []},
                 "default": {"hair": "short", "beard": "no"}},
    )
    # 2. robot: brushed metal
    metal = Material("skin", hex_color("#c8ccd2"), 1.0, 0.3, normal_texture=brushed, normal_scale=0.08)
    rob_m = common(metal, (0.1, 0.8, 1.0), lid=Material("lid", hex_color("#70767f"), 1.0, 0.28, normal_texture=brushed,
                                                            normal_scale=0.4),
                   brow=Material("brow", hex_color("#2a2d33"), 0.9, 0.35),
                   lips=Material("lips", hex_color("#1f6f86"), 0.0, 0.2, emissive=(0.0, 0.45, 0.6), clearcoat=1.0),
                   mouth="#0b0f14")
    rob_m["eye"] = Material("eye", (1, 1, 1, 1), 0.0, 0.05, base_color_texture=eye_texture((0.0, 0.85, 1.0), "round", iris=0.3,
                                                                                          pupil=0.12),
                            emissive=(0.0, 0.35, 0.5), clearcoat=1.0, clearcoat_roughness=0.0)
    rob_m["teeth"] = Material("teeth", hex_color("#9ea4ad"), 1.0, 0.3)
    rob_m["tongue"] = Material("tongue", hex_color("#ff5a3c"), 0.0, 0.4, emissive=(0.25, 0.05, 0.0))
    rob_m["metalDark"] = Material("metalDark", hex_color("#3d4249"), 1.0, 0.3)
    rob_m["glowRed"] = Material("glowRed", hex_color("#ff3b30"), 0.0, 0.3, emissive=(1.2, 0.1, 0.05))
    robot = Char(
        "robot", "Robot (brushed metal)",
        HeadShape((0, 1.8, -1.8), (9.4, 11.6, 10.2), 3.4, jaw_taper=0.08, bumps=[]),
        rob_m, eye_r=2.0, eye_x=3.5, eye_embed=0.55, lid_open=40, brow_r=0.4, lip_r=(0.3, 0.3),
        extras=[ears_part("bolt", "metalDark"), antenna_part],
    )
    # 3. creature: leather
    leath = Material("skin", (1, 1, 1, 1), 0.0, 0.55, normal_texture=leather, normal_scale=0.55,
                     base_color_texture=gradient_texture((0.17, 0.42, 0.25), (0.17, 0.42, 0.25), split=2.0, spots=(0.09, 0.25, 0.13)))
    cre_m = common(leath, (0.95, 0.75, 0.1), "slit", lid=Material("lid", hex_color("#3f7a4c"), 0.0, 0.6, normal_texture=leather),
                   brow=Material("brow", hex_color("#2d5a38"), 0.0, 0.6, normal_texture=leather),
                   lips=Material("lips", hex_color("#4f8a5a"), 0.0, 0.55, normal_texture=leather, normal_scale=0.6), mouth="#4a0f16")
    cre_m["horn"] = Material("horn", hex_color("#efe4c8"), 0.0, 0.4, normal_texture=leather, normal_scale=0.3, clearcoat=0.3)
    creature = Char(
        "creature", "Dragon creature (leather)",
        HeadShape((0, 1.4, -2.0), (9.0, 11.2, 10.8), 2.2, jaw_taper=0.1,
                  bumps=[(0.0, -3.6, 4.4, 3.2, 2.8), (0.0, -1.2, 2.4, 1.6, 0.9), (3.4, 4.6, 2.2, 0.9, 0.7), (-3.4, 4.6, 2.2, 0.9, 0.7)]),
        cre_m, eye_r=1.7, eye_x=3.5, eye_y=3.0, eye_embed=0.45, lid_open=22, brow_y=5.4, brow_r=0.45, mouth_w=3.3,
        lip_r=(0.3, 0.34), extras=[horns_part, nostrils_part],
    )
    # 4. bear: soft fur
    furm = Material("skin", hex_color("#7a4a2c"), 0.0, 0.9, normal_texture=fur, normal_scale=0.9, sheen_color=(0.3, 0.2, 0.14),
                    sheen_roughness=0.35)
    bear_m = common(furm, (0.15, 0.08, 0.05), brow=Material("brow", hex_color("#4a2d1c"), 0.0, 0.9, normal_texture=fur,
                                                               sheen_color=(0.3, 0.2, 0.15)),
                    lips=Material("lips", hex_color("#3a2418"), 0.0, 0.5), mouth="#3b0e12")
    bear_m["muzzle"] = Material("muzzle", hex_color("#d8b08a"), 0.0, 0.85, normal_texture=fur, normal_scale=0.6,
                                sheen_color=(0.3, 0.25, 0.2), sheen_roughness=0.35)
    bear_m["noseBlack"] = Material("noseBlack", hex_color("#1a1210"), 0.0, 0.25, clearcoat=1.0)
    bear_m["earInner"] = Material("earInner", hex_color("#e0a98f"), 0.0, 0.85, sheen_color=(0.5, 0.35, 0.3), normal_texture=fur)
    bear = Char(
        "bear", "Teddy bear (soft fur)",
        HeadShape((0, 1.5, -1.8), (9.8, 11.4, 10.0), 2.0, jaw_taper=0.12, bumps=[(0.0, -3.6, 3.6, 2.8, 1.8)]),
        bear_m, eye_r=1.35, eye_x=3.2, eye_y=2.6, eye_embed=0.35, lid_open=38, brow_y=5.0, brow_r=0.3, mouth_w=2.1,
        lip_r=(0.18, 0.2),
        extras=[ears_part("round", "skin", "earInner"), shell_part("muzzle", "muzzle", muzzle_mask, 0.12, jaw=True),
                nose_part(-1.6, (1.25, 0.85, 0.8), "noseBlack", dz=0.3)],
    )
    return [toon, robot, creature, bear]


# ----------------------------------------------------------------------------- export
def build_char(ch: Char):
    rig = Rig(ch)
    names = list(ARKIT) + (list(SHAPE_TARGETS) if ch.name == "toon" else [])
    P0 = neutral()
    base = rig.build(P0)
    deltas = {name: [] for name, *_ in base}
    for k in names:
        P = neutral()
        P[k] = 1.0
        parts = rig.build(P)
        for (name, _, p0, _, _), (_, _, p1, _, _) in zip(base, parts):
            d = (p1 - p0).astype(np.float32)
            d[np.linalg.norm(d, axis=1) < 3e-3] = 0.0  # below 0.03 mm: not stored (keeps the sparse targets small)
            deltas[name].append(d)
    out = []
    for name, mkey, pos, uv, idx in base:
        mp = np.stack(deltas[name])
        n0 = vertex_normals(pos, idx)
        mn = np.stack([vertex_normals(pos + d, idx) - n0 if np.any(d) else np.zeros_like(d) for d in mp]).astype(np.float32)
        mn[np.linalg.norm(mn, axis=-1) < 0.03] = 0.0
        if not name.startswith(("head", "lid", "brow", "muzzle")):
            mn = None  # shading of small / rigidly moving parts needs no normal deltas (halves the file)
        md = MeshData(pos, idx, n0, uv, mp, mn, names, name=name)
        out.append((md, ch.materials[mkey]))
    return out, names


def export(ch: Char, out_dir: Path) -> Path:
    parts, names = build_char(ch)
    extras = {"faceplay": {"title": ch.title, "name": ch.name, "parts": [m.name for m, _ in parts], "options": ch.options,
                           "materials": sorted({mat.name for _, mat in parts})}}
    path = write_glb(out_dir / f"{ch.name}.glb", parts, names, name=ch.name, extras=extras)
    ntri = sum(m.n_triangles for m, _ in parts)
    print(f"{path.name}: {len(parts)} parts, {ntri} triangles, {len(names)} morph targets, {path.stat().st_size / 1024:.0f} KiB")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="build only these avatars")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    for ch in characters():
        if a.only and ch.name not in a.only:
            continue
        export(ch, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
