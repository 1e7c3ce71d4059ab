"""Video ingestion: one gallery entry per person-track (its best face), not one per frame."""

from __future__ import annotations

from collections import defaultdict

from faceplay.lookalike import Ingester, open_gallery


def test_hamilton_clip_gives_one_entry_per_person_track(hamilton, tmp_path, face_source):
    store = open_gallery(tmp_path / "db", create=True, dim=128, embedding_model="sface")
    ing = Ingester(store, face_source)
    # what the tracker sees on the ~2 fps sample, with each face's quality
    seen: dict[int, list[tuple[float, float]]] = defaultdict(list)
    n_sampled = frames_with_faces = 0
    for frame, faces in face_source.track(ing._sampled(hamilton)):
        n_sampled += 1
        faces = [f for f in faces if min(f.box[2:]) >= ing.min_face_px]
        frames_with_faces += bool(faces)
        for f in faces:
            face_source.describe(frame, f, ("quality",))
            seen[f.track_id].append((frame.timestamp, f.quality.score))
    assert 15 <= n_sampled <= 25  # 275 frames at 25 fps = 11 s, sampled at ~2 fps
    report = ing.add([hamilton], progress=False, workers=1)
    entries = store.get([h.id for h in store.search(_unit(128), 100)])
    store.close()
    assert report.files_added == 1 and report.faces_added == len(entries)
    assert len(seen) >= 2, "the clip shows several people"
    assert frames_with_faces > len(entries), "one entry per frame would be as many entries as face frames"
    track_ids = [e.track_id for e in entries]
    assert len(set(track_ids)) == len(track_ids), "two entries of one track"
    assert set(track_ids) <= set(seen)
    # every person-track is kept unless it duplicates another track of the same person
    assert len(entries) >= 1 and len(entries) <= len(seen)
    for e in entries:
        assert e.timestamp is not None and e.source.endswith("short_hamilton_clip.mp4")
        best_t, best_q = max(seen[e.track_id], key=lambda tq: tq[1])
        assert abs(e.timestamp - best_t) < 1e-6, "the entry is not the track's best face"
        assert abs(e.attributes["quality"]["score"] - round(best_q, 3)) < 2e-3


def _unit(d):
    import numpy as np

    v = np.ones(d, np.float32)
    return v / np.linalg.norm(v)
