"""FaceAnalyzer on real photos: counts, landmarks, blendshapes, identity, pose."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from faceplay.face.types import BLENDSHAPE_NAMES
from faceplay.media import read_image
from tests.conftest import SINGLE


@pytest.fixture(scope="module")
def embeddings(analyzer, faces_dir):
    out = {}
    for name, who in SINGLE.items():
        faces = analyzer.analyze(faces_dir / name, fields=["embedding"])
        out[name] = (who, faces)
    return out


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_single_person_photo_has_one_complete_face(embeddings, name):
    _, faces = embeddings[name]
    assert len(faces) == 1, f"{name}: {len(faces)} faces"
    f = faces[0]
    assert f.landmarks.shape == (478, 3)
    assert set(f.blendshapes) == set(BLENDSHAPE_NAMES) and len(f.blendshapes) == 52
    assert all(0.0 <= v <= 1.0 for v in f.blendshapes.values())
    x, y, w, h = f.box
    assert w > 20 and h > 20
    assert f.embedding is not None and abs(np.linalg.norm(f.embedding) - 1) < 1e-4


@pytest.mark.parametrize("name", ["two_people.jpg", "test_kit_with_rose.jpg"])
def test_group_photos_have_two_faces(analyzer, faces_dir, name):
    faces = analyzer.analyze(faces_dir / name)
    assert len(faces) == 2
    # two different people, side by side
    assert abs(faces[0].center[0] - faces[1].center[0]) > faces[0].box[2]


def test_obama_and_biden_photo_finds_both(analyzer, faces_dir, embeddings):
    """Obama and Biden are the two frontal faces; the only other face is the
    child at the bottom right, turned away in profile (a real face, kept)."""
    faces = analyzer.analyze(faces_dir / "test_obama_and_biden.jpg", fields=["embedding"])
    ref = {who: embeddings[n][1][0].embedding for n, who in [("obama_obama.jpg", "obama"), ("biden_biden.jpg", "biden")]}
    found = {who: max(float(f.embedding @ e) for f in faces) for who, e in ref.items()}
    assert found["obama"] > 0.363 and found["biden"] > 0.363, found
    frontal = [f for f in faces if abs(f.pose.yaw) < 45]
    assert len(frontal) == 2
    assert len(faces) - len(frontal) <= 1


def test_identity_same_above_and_different_below_threshold(embeddings, analyzer):
    thr = analyzer.embedder.threshold
    items = [(n, who, faces[0].embedding) for n, (who, faces) in embeddings.items() if who]
    same, diff = [], []
    for (na, wa, ea), (nb, wb, eb) in itertools.combinations(items, 2):
        (same if wa == wb else diff).append((float(ea @ eb), na, nb))
    assert len(same) >= 20 and len(diff) >= 50
    worst_same = min(same)
    worst_diff = max(diff)
    assert worst_same[0] > thr, f"same person below threshold: {worst_same}"
    assert worst_diff[0] < thr, f"different people above threshold: {worst_diff}"


@pytest.mark.parametrize("angle", [15, -15])
def test_in_plane_rotation_changes_roll(analyzer, faces_dir, angle):
    img = read_image(faces_dir / "obama_obama.jpg")
    base = analyzer.analyze(img)[0].pose.roll
    rotated = np.asarray(Image.fromarray(img).rotate(angle, expand=True, resample=Image.BICUBIC))
    roll = analyzer.analyze(rotated)[0].pose.roll
    assert abs((roll - base) - angle) <= 3.0, (base, roll)


def test_yaw_sign_follows_mirror(analyzer, faces_dir):
    img = read_image(faces_dir / "kit_harington_john2.jpeg")
    yaw = analyzer.analyze(img)[0].pose.yaw
    mirrored = analyzer.analyze(np.ascontiguousarray(img[:, ::-1]))[0].pose.yaw
    assert abs(yaw) > 15, "this photo is a clearly turned face"
    assert np.sign(yaw) == -np.sign(mirrored) and abs(yaw + mirrored) < 6


def test_pose_matrix_projects_onto_landmarks(analyzer, faces_dir):
    """Renderers draw with Pose.matrix + projection_matrix: the canonical mesh must land on the face."""
    from faceplay.face.pose import project
    from faceplay.geometry.canonical import canonical_mesh

    img = read_image(faces_dir / "two_people.jpg")
    h, w = img.shape[:2]
    for f in analyzer.analyze(img):
        err = np.linalg.norm(project(canonical_mesh().vertices, f.pose.matrix, w, h) - f.landmarks[:468, :2], axis=1)
        assert np.median(err) < 0.12 * f.eye_distance, np.median(err)


def test_lazy_fields_are_not_computed_unless_asked(analyzer, faces_dir):
    f = analyzer.analyze(faces_dir / "obama_obama.jpg")[0]
    assert f.embedding is None and f.age is None and f.skin_tone is None and f.quality is None
    assert f.face_shape is None and f.expression is None


def test_skin_shape_quality(analyzer, faces_dir):
    from faceplay.face.types import FACE_SHAPES

    f = analyzer.analyze(faces_dir / "obama_obama.jpg", fields=["skin_tone", "face_shape", "quality"])[0]
    assert 1 <= f.skin_tone.monk <= 10
    assert f.face_shape in FACE_SHAPES and abs(sum(f.face_shape_scores.values()) - 1) < 1e-3
    small = analyzer.analyze(faces_dir / "obama-240p.jpg", fields=["quality"])[0]
    assert f.quality.size > 2 * small.quality.size  # the 240p photo is the small, soft one
    assert f.quality.score > small.quality.score


def test_skin_tone_orders_lighter_and_darker_faces(analyzer, faces_dir):
    """ITA is higher (lighter) for Rose Leslie and Kit Harington than for Obama, photo by photo on average."""
    def ita(name):
        return analyzer.analyze(faces_dir / name, fields=["skin_tone"])[0].skin_tone.ita

    light = np.mean([ita(n) for n in ["rose_leslie_img1.jpg", "rose_leslie_img2.jpg", "kit_harington_john1.jpeg", "kit_harington_john2.jpeg"]])
    dark = np.mean([ita(n) for n in ["obama_obama.jpg", "obama3.jpg", "obama_obama2.jpg", "test_obama1.jpg"]])
    assert light > dark + 15, (light, dark)
