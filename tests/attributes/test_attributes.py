"""Age, gender and expression on real photos (faceres + GEAR + emotion ONNX models)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceplay.face.attributes import AgeGenderModel, EmotionModel, GearModel, face_crop
from faceplay.face.types import EXPRESSIONS
from faceplay.media.frame import Frame
from faceplay.media.image import read_image
from tests.conftest import GENDER, SINGLE

SMILING = ["obama_obama.jpg", "biden_biden2.jpg", "alex_lacamoire_img1.jpg", "test_alex_lacamoire1.jpg"]
NOT_SMILING = ["rose_leslie_img1.jpg", "kit_harington_john2.jpeg"]
IDENTIFIED = {name: who for name, who in SINGLE.items() if who is not None}


@pytest.fixture(scope="module")
def models():
    return AgeGenderModel(), EmotionModel()


@pytest.fixture(scope="module")
def results(faces_dir, analyzer, models):
    """name -> the largest Face of each single-person photo, with age, gender and expression."""
    age_gender, emotion = models
    out = {}
    for name in IDENTIFIED:
        frame = Frame(read_image(faces_dir / name))
        faces = analyzer.analyze(frame)
        assert faces, f"no face found in {name}"
        face = faces[0]
        age_gender.get(frame, face)
        emotion.get(frame, face)
        out[name] = face
    return out


@pytest.mark.parametrize("name", sorted(IDENTIFIED))
def test_gender_is_right_on_every_single_person_photo(results, name):
    face = results[name]
    assert face.gender == GENDER[IDENTIFIED[name]], f"{name}: {face.gender} ({face.gender_score:.2f})"
    assert 0.5 <= face.gender_score <= 1.0


def test_ages_are_plausible_and_ordered(results):
    ages = {name: f.age for name, f in results.items()}
    for name, age in ages.items():
        assert 18 <= age <= 80, f"{name}: age {age:.1f}"
    older = [a for n, a in ages.items() if IDENTIFIED[n] in ("obama", "biden")]
    younger = [a for n, a in ages.items() if IDENTIFIED[n] in ("kit", "rose")]
    # Obama and Biden (47-75 in these photos) look older than Kit Harington and Rose Leslie (about 30) in every photo.
    assert min(older) > max(younger), f"older {sorted(older)} vs younger {sorted(younger)}"
    assert np.mean(older) - np.mean(younger) > 10


@pytest.mark.parametrize("name", SMILING)
def test_smiling_faces_are_happy(results, name):
    assert results[name].expression == "happy", results[name].expression_scores


@pytest.mark.parametrize("name", NOT_SMILING)
def test_calm_faces_are_not_happy(results, name):
    assert results[name].expression != "happy", results[name].expression_scores


def test_expression_scores_cover_the_seven_expressions(results):
    for face in results.values():
        assert list(face.expression_scores) == list(EXPRESSIONS)
        assert sum(face.expression_scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert face.expression == max(face.expression_scores, key=face.expression_scores.get)


def test_man_and_woman_in_one_photo_are_told_apart(faces_dir, analyzer, models):
    frame = Frame(read_image(faces_dir / "test_kit_with_rose.jpg"))
    faces = analyzer.analyze(frame)
    assert len(faces) == 2
    for f in faces:
        models[0].get(frame, f)
    # Kit stands on the right (larger x), Rose on the left.
    kit, rose = sorted(faces, key=lambda f: -f.center[0])
    assert (kit.gender, rose.gender) == ("male", "female")


def test_tilted_head_gives_the_same_answers(faces_dir, analyzer, models):
    """A photo rotated by 25 degrees: the de-rotated crop keeps gender, smile and age."""
    age_gender, emotion = models
    rgb = read_image(faces_dir / "biden_biden2.jpg")
    h, w = rgb.shape[:2]
    upright, tilted = Frame(rgb), Frame(cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT))
    got = []
    for frame in (upright, tilted):
        face = analyzer.analyze(frame)[0]
        age_gender.get(frame, face)
        emotion.get(frame, face)
        got.append(face)
    assert got[1].gender == "male" and got[1].expression == "happy"
    assert abs(got[0].age - got[1].age) < 8


def test_gear_reports_age_bucket_gender_and_race(faces_dir, analyzer):
    frame = Frame(read_image(faces_dir / "rose_leslie_img2.jpg"))
    face = analyzer.analyze(frame)[0]
    g = GearModel().get(frame, face)
    assert face.extra["gear"] is g
    assert g.gender == "female" and g.race == "white"
    assert sum(g.race_scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert 18 <= g.age <= 45
    assert face.age is None  # GEAR alone does not claim face.age


def test_faceres_alone_and_the_shared_crop(faces_dir, analyzer):
    frame = Frame(read_image(faces_dir / "obama_obama.jpg"))
    face = analyzer.analyze(frame)[0]
    res = AgeGenderModel(use_gear=False).get(frame, face)
    assert res.age_gear is None and res.age == res.age_faceres == face.age
    assert face.gender == "male"
    crop = face_crop(frame, face)
    assert crop is face_crop(frame, face)  # computed once per frame and face
    assert crop.shape == (256, 256, 3) and crop.dtype == np.float32 and 0.0 <= crop.min() and crop.max() <= 1.0
