"""`faceplay track`: the face tracker for creator tools (VMC, Live Link Face CSV, glTF takes, JSON lines)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from faceplay.clikit import dumps, json_option, progress_enabled

log = logging.getLogger(__name__)

RECORD_SUFFIXES = (".csv", ".glb")


def _gains(items) -> dict[str, float]:
    """``--gain`` items (groups or ARKit names) expanded to per-blendshape gains."""
    from faceplay.avatar.driver import GROUPS, parse_gains

    out: dict[str, float] = {}
    for k, v in parse_gains(items).items():
        for n in GROUPS.get(k, (k,)):
            out[n] = out.get(n, 1.0) * v
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("input", required=False, type=click.Path(path_type=Path))
@click.option("--camera", type=click.IntRange(0, 99), metavar="N", help="Track camera N (/dev/videoN) instead of a file.")
@click.option("--send", "sends", multiple=True, metavar="vmc://HOST:PORT",
              help="Stream the VMC protocol (OSC/UDP) to an avatar app; repeatable. VSeeFace/Warudo listen on 39539.")
@click.option("--record", "records", multiple=True, type=click.Path(path_type=Path), metavar="FILE.csv|FILE.glb",
              help="Record a take: .csv in the Live Link Face layout, .glb = the avatar animated (glTF 2.0); repeatable.")
@click.option("-a", "--avatar", default="toon", show_default=True, metavar="NAME|FILE.glb",
              help="Avatar of .glb takes: a built-in name or your .glb/.vrm with ARKit morph targets.")
@click.option("--mapping", type=click.Path(path_type=Path), help="JSON file mapping ARKit names to your avatar's morph target names.")
@click.option("--profile", type=click.Path(path_type=Path), metavar="FILE.json",
              help="Calibration/sensitivity profile (from --calibrate) applied to every output.")
@click.option("--calibrate", "calibrate_to", type=click.Path(path_type=Path), metavar="FILE.json",
              help="Record a neutral face during the first --calibrate-seconds and write a profile to FILE.json.")
@click.option("--calibrate-seconds", type=click.FloatRange(0.2, 60), default=3.0, show_default=True, metavar="S",
              help="Length of the neutral-face recording.")
@click.option("--gain", "gains", multiple=True, metavar="GROUP=F",
              help="With --calibrate: sensitivity of a group (eyes, brows, mouth, jaw, cheeks, nose, tongue) or an ARKit name.")
@click.option("--curve", type=click.FloatRange(0.2, 5), default=1.0, show_default=True,
              help="With --calibrate: response exponent of every blendshape (< 1 makes small movements bigger).")
@click.option("--smoothing", type=click.FloatRange(0, 0.95), default=0.3, show_default=True,
              help="With --calibrate: temporal smoothing stored in the profile (0 = none).")
@click.option("--realtime", is_flag=True, help="Pace a video file at its frame rate (cameras always are).")
@click.option("--max-frames", type=click.IntRange(1), metavar="N", help="Stop after N frames.")
@click.option("--start", type=click.FloatRange(0), default=0.0, metavar="S", help="Start at S seconds into a video file.")
@click.option("--seconds", "max_seconds", type=click.FloatRange(0, min_open=True), metavar="S", help="Stop after S seconds of input.")
@json_option
def track(input, camera, sends, records, avatar, mapping, profile, calibrate_to, calibrate_seconds, gains, curve,
          smoothing, realtime, max_frames, start, max_seconds, as_json) -> None:
    """Track one face and feed creator tools: 52 ARKit blendshapes, head pose and gaze per frame.

    Only the face tracker runs (no attribute model, no rendering). With --json
    every frame is one JSON line on stdout (time, blendshapes, head yaw/pitch/roll,
    rotation quaternion and translation in cm, eye gaze per eye).

    \b
    faceplay track clip.mp4 --json > take.jsonl
    faceplay track --camera 0 --send vmc://127.0.0.1:39539
    faceplay track clip.mp4 --record take.csv --record take.glb --avatar robot
    faceplay track --camera 0 --calibrate me.json      (relaxed face for 3 s)
    faceplay track --camera 0 --profile me.json --send vmc://127.0.0.1:39539
    """
    from faceplay.creator.profile import load_profile
    from faceplay.creator.session import Calibration, run_tracking
    from faceplay.creator.source import open_source
    from faceplay.creator.vmc import parse_vmc_url
    from faceplay.errors import ConfigError
    from faceplay.media.output import check_output

    if start and camera is not None:
        raise ConfigError("--start applies to video files; a camera starts now")
    for url in sends:
        parse_vmc_url(url)
    for r in records:
        if r.suffix.lower() not in RECORD_SUFFIXES:
            raise ConfigError(f"--record {r}: unknown take format; name it .csv (Live Link Face) or .glb (glTF animation)")
    if profile is not None and calibrate_to is not None:
        raise ConfigError("give either --profile (use a profile) or --calibrate (write one), not both")
    if gains and calibrate_to is None:
        raise ConfigError("--gain is stored in a profile: use it with --calibrate FILE.json (then --profile FILE.json)")
    for out in (*records, calibrate_to):
        check_output(out, input, mapping, profile, avatar if str(avatar).lower().endswith((".glb", ".vrm")) else None)
    prof = load_profile(profile) if profile is not None else None
    calibration = Calibration(seconds=calibrate_seconds, gains=_gains(gains), curve=curve, smoothing=smoothing) \
        if calibrate_to is not None else None
    source = open_source(input, camera)
    writers, senders = [], []
    try:
        if records:
            from faceplay.avatar.model import load_mapping

            amap = load_mapping(mapping)
            for r in records:
                if r.suffix.lower() == ".csv":
                    from faceplay.creator.livelink import LiveLinkCsvWriter

                    writers.append(LiveLinkCsvWriter(r, source.fps))
                else:
                    from faceplay.creator.take import GlbTakeWriter

                    writers.append(GlbTakeWriter(r, avatar, amap))
        if sends:
            from faceplay.creator.vmc import VmcSender

            senders = [VmcSender(u) for u in sends]
    except BaseException:
        for w in writers:
            w.abort()
        for s in senders:
            s.close()
        source.close()
        raise
    lines = None
    if as_json:
        import sys

        def lines(s) -> None:  # noqa: F811 - one JSON line per frame, flushed at once
            sys.stdout.write(dumps(s.to_dict()) + "\n")
            sys.stdout.flush()
    keep_going = bool(sends or records or as_json) or calibration is None
    try:
        stats = run_tracking(source, profile=prof, writers=writers, senders=senders, on_sample=lines,
                             calibration=calibration, keep_going=keep_going, max_frames=max_frames,
                             max_seconds=max_seconds, start=start, realtime=realtime, progress=progress_enabled(as_json))
    finally:
        source.close()
    if calibration is not None:
        calibration.profile.save(calibrate_to)
    summary = {"input": source.name, "frames": stats.frames, "tracked": stats.tracked, "fps": round(stats.fps, 1),
               "sent": {s.url: s.sent for s in senders}, "recorded": [str(r) for r in records],
               "profile": str(calibrate_to) if calibrate_to else None}
    if stats.frames and not stats.tracked:
        log.warning("no face was found in %s", source.name)
    if as_json:
        log.info("track: %s", summary)
    else:
        parts = [f"tracked {stats.frames} frames ({stats.tracked} with a face, {stats.fps:.1f} fps)"]
        parts += [f"sent {n} VMC bundles to {u}" for u, n in summary["sent"].items()]
        parts += [f"wrote {r}" for r in records]
        if calibrate_to:
            parts.append(f"wrote profile {calibrate_to} ({len(calibration.weights)} neutral frames)")
        click.echo("; ".join(parts))



