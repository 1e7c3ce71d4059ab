"""--passes: normals / depth (16-bit), albedo, shading before / after, matte; albedo x shading = the relit face."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceplay.relight.auto import face_halves_mask
from faceplay.relight.passes import read_pass, recombine
from tests.relight.helpers import cli_json, psnr

FIVE = ("normals", "depth", "albedo", "shading_before", "shading_after", "matte")


@pytest.mark.parametrize("name, light", [("biden_biden2.jpg", ("--preset", "rembrandt")),
                                         ("rose_leslie_img1.jpg", ("--preset", "left")),
                                         ("obama3.jpg", ("--preset", "neon"))])
def test_photo_passes_exist_and_recombine_to_the_relit_face(faces_dir, tmp_path, name, light):
    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.media.image import read_image

    d, out = tmp_path / "p", tmp_path / "out.png"
    info = cli_json("relight", faces_dir / name, "-o", out, *light, "--passes", d)
    assert set(FIVE) <= set(info["passes"])
    meta = json.loads((d / "passes.json").read_text())
    assert set(FIVE) <= set(meta["passes"]) and all(meta["passes"][p] for p in FIVE)
    p = {k: read_pass(d / f"{k}.png") for k in FIVE + ("specular",)}
    src, relit = read_image(faces_dir / name), read_image(out)
    H, W = src.shape[:2]
    assert p["normals"].dtype == np.uint16 and p["normals"].shape == (H, W, 3)
    assert p["depth"].dtype == np.uint16 and p["depth"].shape == (H, W)
    assert p["matte"].shape == (H, W) and p["matte"].max() == 255
    with FaceAnalyzer() as fa:
        face = fa.analyze(src)[0]
    left, right = face_halves_mask(src.shape, face)
    m = left | right
    # normals on the face are unit vectors facing the camera; depth covers the face, nose nearer than the cheeks
    n = p["normals"][m].astype(np.float64) / 65535 * 2 - 1
    assert np.abs(np.linalg.norm(n, axis=1) - 1).mean() < 0.01 and (n[:, 2] > 0).mean() > 0.95
    dz = p["depth"]
    assert (dz[m] > 0).mean() > 0.9
    nose = np.round(face.landmarks[1, :2]).astype(int)
    cheek = np.round(face.landmarks[234, :2] * 0.7 + face.landmarks[1, :2] * 0.3).astype(int)
    assert int(dz[nose[1], nose[0]]) > int(dz[cheek[1], cheek[0]])
    # the compositor's rebuild: albedo x shading_after (+ highlights) is the relit face
    rebuilt = recombine(p["albedo"], p["shading_after"], p["specular"])
    q = psnr(rebuilt, relit, m)
    assert q > 35, f"{name}: albedo x shading vs the output {q:.1f} dB"
    # ... to within 2 dB of the output's own distance from the input
    assert abs(psnr(rebuilt, src, m) - psnr(relit, src, m)) < 2.0
    # and albedo x shading_before is the input
    assert psnr(recombine(p["albedo"], p["shading_before"]), src, m) > 35
