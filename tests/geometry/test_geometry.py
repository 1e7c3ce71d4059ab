"""Canonical mesh, morphable model and per-frame fitting on real photos."""

from __future__ import annotations

import numpy as np
import pytest

from faceplay.geometry import FaceFitter, canonical_mesh, load_model, subdivision
from faceplay.face.types import BLENDSHAPE_NAMES


def test_canonical_mesh_is_mediapipes_face_topology():
    m = canonical_mesh()
    assert m.vertices.shape == (468, 3) and m.triangles.shape == (898, 3) and m.uvs.shape == (468, 2)
    assert m.triangles.min() == 0 and m.triangles.max() == 467
    assert (m.uvs >= 0).all() and (m.uvs <= 1).all()
    # counter-clockwise seen from the front: almost all face normals point to the viewer (+z)
    v, t = m.vertices, m.triangles
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    assert (n[:, 2] > 0).mean() > 0.95
    # the person's right eye (landmark 33) is on the image left (-x); nose tip (1) is the most forward point
    assert v[33, 0] < 0 < v[263, 0]
    assert v[1, 2] > np.percentile(v[:, 2], 99)


def test_model_file_is_small_versioned_and_learned_from_real_faces():
    m = load_model()
    assert m.version == 1
    assert m.n_identity_faces >= 600 and m.n_expression_frames >= 500
    assert m.id_basis.shape[1:] == (468, 3) and 10 <= m.n_identity <= 80
    assert m.exp_basis.shape == (52, 468, 3)


def test_expression_basis_moves_the_right_parts():
    m = load_model()
    jaw = dict(zip(BLENDSHAPE_NAMES, m.exp_basis))["jawOpen"]
    # the chin moves away from the nose tip by more than 1 cm at jawOpen=1, much more than the mouth corners widen
    assert jaw[1, 1] - jaw[152, 1] > 1.0
    assert abs(jaw[291, 0] - jaw[61, 0]) < 0.5 * (jaw[1, 1] - jaw[152, 1])
    blink = dict(zip(BLENDSHAPE_NAMES, m.exp_basis))["eyeBlinkLeft"]
    # the person's left upper lid (386, image right, +x) closes: moves down more than the right one (159)
    assert blink[386, 1] < blink[159, 1] - 0.05
    smile = dict(zip(BLENDSHAPE_NAMES, m.exp_basis))["mouthSmileLeft"]
    assert smile[291, 1] > 0.05  # the person's left mouth corner goes up


def test_subdivision_gives_smooth_dense_mesh():
    s = subdivision(1)
    assert s.op.shape == (1833, 468) and s.triangles.shape == (898 * 4, 3)
    np.testing.assert_allclose(np.asarray(s.op.sum(1)).ravel(), 1.0, atol=1e-9)  # affine combination


PHOTOS = ["obama_obama.jpg", "biden_biden.jpg", "kit_harington_john2.jpeg", "rose_leslie_img1.jpg", "obama-240p.jpg"]


@pytest.fixture(scope="module")
def photo_faces(faces_dir):
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media.image import read_image

    out = {}
    with FaceAnalyzer() as fa:
        for name in PHOTOS:
            rgb = read_image(faces_dir / name)
            out[name] = (rgb, fa.analyze(rgb)[0])
    return out


def test_fit_follows_the_landmarks_on_real_photos(photo_faces):
    for name, (rgb, face) in photo_faces.items():
        fit = FaceFitter().fit(face.landmarks, face.blendshapes, rgb.shape[0])
        iod = face.eye_distance
        assert fit.rms < 0.06 * iod, name  # residual below 6 % of the eye distance
        mesh = fit.mesh(1)
        assert mesh.vertices.shape == (1833, 3)
        np.testing.assert_allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-4)
        img = fit.image_vertices(rgb.shape[0])
        # the fitted nose tip lands on the detected one
        assert np.linalg.norm(img[1, :2] - face.landmarks[1, :2]) < 0.15 * iod, name


def test_fit_pose_follows_head_turn_and_mirror(photo_faces):
    rgb, face = photo_faces["kit_harington_john2.jpeg"]
    fit = FaceFitter().fit(face.landmarks, face.blendshapes, rgb.shape[0])
    lm = face.landmarks.copy()
    lm[:, 0] = rgb.shape[1] - 1 - lm[:, 0]  # mirror the landmarks (a left/right-swapped face)
    from faceplay.face.landmarker import _to_face  # noqa: F401  (the analyzer's own conventions)

    mirrored = FaceFitter().fit(lm[_mirror_index()], face.blendshapes, rgb.shape[0])
    assert abs(fit.yaw) > 10
    assert np.sign(mirrored.yaw) == -np.sign(fit.yaw)


def _mirror_index() -> np.ndarray:
    """Landmark permutation that maps each vertex to its left/right twin on the canonical mesh."""
    v = canonical_mesh().vertices
    twin = v * np.array([-1, 1, 1])
    d = ((twin[:, None, :] - v[None]) ** 2).sum(-1)
    idx = d.argmin(1)
    return np.concatenate([idx, np.arange(468, 478)])


def test_profile_view_degrades_gracefully(photo_faces):
    """Squash the landmarks horizontally (as on a strongly turned head): still a valid, bounded fit."""
    rgb, face = photo_faces["obama_obama.jpg"]
    lm = face.landmarks.copy()
    cx = lm[:, 0].mean()
    lm[:, 0] = cx + (lm[:, 0] - cx) * 0.3
    fit = FaceFitter().fit(lm, face.blendshapes, rgb.shape[0])
    assert np.isfinite(fit.vertices).all()
    assert np.abs(fit.alpha).max() < 6  # identity stays plausible (regularised)
    assert fit.mesh(1).normals.shape == (1833, 3)


def test_identity_is_held_per_track(photo_faces):
    rgb, face = photo_faces["biden_biden.jpg"]
    f = FaceFitter(hold_identity=True)
    first = [f.fit(face.landmarks, face.blendshapes, rgb.shape[0]).alpha for _ in range(8)]
    lm = face.landmarks.copy()
    lm[:, 1] += (lm[:, 1] - lm[:, 1].mean()) * 0.15  # a stretched (noisy) frame
    later = f.fit(lm, face.blendshapes, rgb.shape[0]).alpha
    np.testing.assert_allclose(later, np.mean(first, 0), atol=1e-6)


def test_fitted_head_turn_agrees_with_the_analyzers_pose(photo_faces):
    for name, (rgb, face) in photo_faces.items():
        fit = FaceFitter().fit(face.landmarks, face.blendshapes, rgb.shape[0])
        assert abs(fit.yaw - face.pose.yaw) < 15, f"{name}: fit {fit.yaw:.1f} vs pose {face.pose.yaw:.1f}"
