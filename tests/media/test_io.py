"""Image and video I/O on real files and on the formats users throw at it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from faceplay.errors import ImageTooLargeError, InputNotFoundError, UnreadableImageError, UnreadableVideoError
from faceplay.media import VideoReader, VideoWriter, probe, read_image, write_image


def test_rgba_png_is_composited_to_rgb(faces_dir):
    img = read_image(faces_dir / "32bit.png")
    assert img.dtype == np.uint8 and img.shape == (1200, 626, 3)


def test_exif_orientation_is_applied(faces_dir, tmp_path):
    src = Image.open(faces_dir / "obama_obama.jpg")
    rotated = src.transpose(Image.Transpose.ROTATE_90)  # stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 8  # ...with "rotate 90 CW to display" in EXIF
    p = tmp_path / "sideways.jpg"
    rotated.save(p, exif=exif)
    img = read_image(p)
    assert img.shape[:2] == (src.height, src.width)


def test_grey_16bit_and_webp(faces_dir, tmp_path):
    src = Image.open(faces_dir / "obama_obama.jpg").convert("L")
    a16 = (np.asarray(src).astype(np.uint16) * 257)
    p16 = tmp_path / "grey16.png"
    Image.fromarray(a16).save(p16)
    g = read_image(p16)
    assert g.shape == (src.height, src.width, 3) and abs(int(g[..., 0].mean()) - int(np.asarray(src).mean())) <= 1
    pw = tmp_path / "photo.webp"
    Image.open(faces_dir / "obama_obama.jpg").save(pw, quality=90)
    assert read_image(pw).shape[2] == 3


def test_bad_images(tmp_path, faces_dir):
    with pytest.raises(InputNotFoundError):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(UnreadableImageError, match="empty"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_text("this is not a picture")
    with pytest.raises(UnreadableImageError):
        read_image(tmp_path / "text.jpg")
    data = (faces_dir / "obama_obama.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(UnreadableImageError, match="truncated"):
        read_image(tmp_path / "trunc.jpg")


def test_huge_image_refused_before_decoding(tmp_path):
    buf = io.BytesIO()
    Image.new("L", (10000, 10000)).save(buf, format="PNG")
    with pytest.raises(ImageTooLargeError, match="10000x10000"):
        read_image(buf.getvalue())


def test_write_image_roundtrip(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    p = write_image(tmp_path / "x.png", rgb)
    assert np.array_equal(read_image(p), rgb)


def test_video_roundtrip_keeps_frames_duration_and_audio(hamilton, tmp_path):
    out = tmp_path / "copy.mp4"
    with VideoReader(hamilton) as r, VideoWriter(out, r.fps, r.width, r.height, audio_from=hamilton) as w:
        for f in r:
            w.write(f.rgb)
    a, b = probe(hamilton), probe(out)
    assert b["frames"] == a["frames"] == 275
    assert b["has_audio"]
    assert abs(b["duration"] - a["duration"]) < 0.05
    assert not list(tmp_path.glob("*.part*"))
    # the colours come back: no shift of any channel (RGB -> I420 is OpenCV's, decoding is FFmpeg's)
    with VideoReader(hamilton) as r1, VideoReader(out) as r2:
        diffs = [f2.rgb.astype(np.int16) - f1.rgb.astype(np.int16) for f1, f2, _ in zip(r1, r2, range(30))]
    assert np.mean([np.abs(d).mean() for d in diffs]) < 4.0
    assert np.all(np.abs(np.mean([d.mean(axis=(0, 1)) for d in diffs], axis=0)) < 1.5)


def test_corrupt_video(tmp_path, hamilton):
    p = tmp_path / "bad.mp4"
    p.write_bytes(hamilton.read_bytes()[:50_000])
    with pytest.raises(UnreadableVideoError):
        with VideoReader(p) as r:
            list(r)
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(UnreadableVideoError):
        VideoReader(tmp_path / "junk.mp4")


def test_threaded_writer_keeps_every_frame_and_never_leaves_a_broken_file(hamilton, tmp_path):
    """Encoding in its own thread (the runner's video path): the same file as in-line encoding;
    an encoder error comes back to the caller and an aborted file leaves nothing behind."""
    from faceplay.media.video import ThreadedWriter

    out = tmp_path / "threaded.mp4"
    seen = []
    with VideoReader(hamilton) as r:
        w = ThreadedWriter(VideoWriter(out, r.fps, r.width, r.height, audio_from=hamilton), on_encoded=seen.append)
        frames = [f.rgb for f in r]
        first = frames[0].astype(float).mean()
        for rgb in frames:
            w.write(rgb)
            rgb[:] = 0  # the caller may reuse its buffer at once: the writer took a copy
        w.close()
    b = probe(out)
    assert b["frames"] == 275 and b["has_audio"] and len(seen) == 275
    with VideoReader(out) as r:
        assert abs(next(iter(r)).rgb.mean() - first) < 3 < first  # the frame, not the zeroed buffer

    bad = tmp_path / "bad.mp4"
    w = ThreadedWriter(VideoWriter(bad, 25, 64, 48))
    w.write(np.zeros((48, 64, 3), np.uint8))
    w.write(np.zeros((48, 64, 3), np.float32))  # not a uint8 image: the encoder thread fails on it
    with pytest.raises(Exception):
        for _ in range(20):
            w.write(np.zeros((48, 64, 3), np.uint8))
        w.close()
    w.abort()
    assert not bad.exists() and not list(tmp_path.glob("bad*"))
