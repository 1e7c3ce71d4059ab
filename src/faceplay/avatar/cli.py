"""`faceplay avatar`: cartoon avatars on photos and videos, plus --list / --export / --gallery."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import click

from faceplay.clikit import emit_json, json_option, progress_enabled, table

log = logging.getLogger(__name__)


def _background(value: str | None):
    if value is None or value == "green":
        return (0, 177, 64)
    if value in ("none", "transparent"):
        return None
    if value == "blue":
        return (0, 71, 187)
    v = value.lstrip("#")
    try:
        if len(v) != 6:
            raise ValueError
        return tuple(int(v[i:i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        from faceplay.errors import ConfigError

        raise ConfigError(f"bad --background {value!r}; use green, blue, none or #rrggbb") from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("input", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output image/video (.png keeps transparency, .webm alpha video).")
@click.option("-a", "--avatar", "avatars", multiple=True, metavar="NAME|FILE.glb",
              help="Built-in avatar name or a .glb with ARKit morph targets; repeat to give several faces different avatars.")
@click.option("--mode", type=click.Choice(["replace", "side-by-side", "avatar-only"]), default="replace", show_default=True)
@click.option("--list", "do_list", is_flag=True, help="List the built-in avatars and their options.")
@click.option("--export", "export_name", metavar="NAME", help="Write the built-in avatar NAME as a .glb to -o.")
@click.option("--gallery", is_flag=True, help="Render every built-in avatar with expressions and head turns to -o (PNG).")
@click.option("--skin", metavar="#RRGGBB", help="Skin colour (toon avatar; default from the face's skin tone).")
@click.option("--hair", metavar="STYLE", help="Hair style (toon: short, long, none; default from gender/age).")
@click.option("--hair-color", metavar="#RRGGBB", help="Hair and brow colour.")
@click.option("--beard", type=click.Choice(["yes", "no"]), help="Beard (toon; default from gender/age).")
@click.option("--eye-color", metavar="#RRGGBB", help="Iris colour.")
@click.option("--head-shape", type=click.Choice(["oval", "round", "square", "heart", "oblong"]),
              help="Head shape (toon; default from the face shape).")
@click.option("--no-auto", is_flag=True, help="Do not configure the avatar from face attributes.")
@click.option("--mapping", type=click.Path(path_type=Path), help="JSON file mapping ARKit names to your .glb's morph target names.")
@click.option("--gain", "gains", multiple=True, metavar="GROUP=F",
              help="Exaggerate a group: eyes, brows, mouth, jaw, cheeks, nose, tongue (or an ARKit name); repeatable.")
@click.option("--smoothing", type=click.FloatRange(0, 0.95), default=0.2, show_default=True, help="Temporal smoothing of expressions (video).")
@click.option("--no-calibrate", is_flag=True, help="Do not subtract the person's resting expression.")
@click.option("--profile", type=click.Path(path_type=Path), metavar="FILE.json",
              help="Calibration/sensitivity profile from 'faceplay track --calibrate' (neutral, gains, curves, smoothing).")
@click.option("--camera", type=click.IntRange(0, 99), metavar="N", help="Live input from camera N (/dev/videoN); needs --virtual-camera.")
@click.option("--virtual-camera", is_flag=True, help="Send the frames to a virtual camera (OBS, calls) via pyvirtualcam instead of -o.")
@click.option("--scale", type=click.FloatRange(0.3, 3.0), default=1.0, show_default=True, help="Avatar size relative to the head.")
@click.option("--background", metavar="green|blue|none|#RRGGBB", help="Backdrop of avatar-only output (default green; none = transparent).")
@click.option("--samples", type=click.IntRange(0, 8), default=4, show_default=True,
              help="MSAA samples of photos (0 = fastest); videos and live render without MSAA, edges smoothed.")
@click.option("--live-pixels", type=click.IntRange(2_000, 4_000_000), default=None, metavar="N",
              help="Pixels rasterised per video / live frame, the avatar scaled up from them "
                   "[default: 24000]; more is sharper and slower.")
@click.option("--keep-head", is_flag=True, help="Replace mode: draw over the person's head as it is (default: head and hair replaced by background first).")
@json_option
def avatar(input, output, avatars, mode, do_list, export_name, gallery, skin, hair, hair_color, beard, eye_color, head_shape,
           no_auto, mapping, gains, smoothing, no_calibrate, profile, camera, virtual_camera, scale, background, samples,
           live_pixels, keep_head, as_json) -> None:
    """Replace faces with a 3D cartoon avatar that copies expression and head pose.

    \b
    faceplay avatar photo.jpg -o out.jpg --avatar robot
    faceplay avatar clip.mp4 -o out.mp4 --mode side-by-side
    faceplay avatar selfie.mp4 -o avatar.webm --mode avatar-only --background none
    faceplay avatar --list | --export toon -o toon.glb | --gallery -o sheet.png
    faceplay avatar --camera 0 --virtual-camera --mode avatar-only --profile me.json
    """
    from faceplay.avatar.model import Avatar, AvatarConfig, builtin_names, builtin_path
    from faceplay.errors import InputError

    if do_list:
        rows = []
        for n in builtin_names():
            av = Avatar(n)
            opts = {k: list(v) for k, v in av.options.items() if k != "default"}
            rows.append({"name": n, "title": av.meta.get("title", n), "morph_targets": len(av.names),
                         "triangles": sum(p.mesh.n_triangles for p in av.asset.primitives), "options": opts})
        if as_json:
            emit_json({"avatars": rows})
        else:
            click.echo(table([[r["name"], r["title"], r["morph_targets"], r["triangles"],
                               "; ".join(f"{k}: {'/'.join(v)}" for k, v in r["options"].items())] for r in rows],
                             ["name", "description", "targets", "triangles", "options"]))
        return
    if export_name:
        if output is None:
            raise InputError("--export needs -o NAME.glb")
        src = builtin_path(export_name)
        if output.suffix.lower() != ".glb":
            raise InputError(f"{output}: export writes a glTF binary; name the output .glb")
        from faceplay.media.output import atomic_output

        with atomic_output(output) as tmp:
            shutil.copyfile(src, tmp)
        if as_json:
            emit_json({"exported": export_name, "output": str(output), "bytes": output.stat().st_size})
        else:
            click.echo(f"wrote {output}")
        return
    if gallery:
        if output is None:
            raise InputError("--gallery needs -o sheet.png")
        from faceplay.avatar.gallery import render_sheet
        from faceplay.media.image import write_image

        names = [a for a in avatars] or None
        sheet = render_sheet(names)
        write_image(output, sheet)
        if as_json:
            emit_json({"output": str(output), "width": sheet.shape[1], "height": sheet.shape[0]})
        else:
            click.echo(f"wrote {output}")
        return
    live = virtual_camera or camera is not None
    if live and not virtual_camera:
        raise click.UsageError("--camera needs --virtual-camera (to record a camera, use 'faceplay track --camera N')")
    if not live and (input is None or output is None):
        raise click.UsageError("give INPUT and -o OUTPUT (or --list / --export / --gallery)")

    from faceplay.avatar.driver import DriverSettings, parse_gains
    from faceplay.avatar.effect import AvatarEffect
    from faceplay.avatar.model import load_mapping
    from faceplay.errors import InputNotFoundError
    from faceplay.media.video import is_video_path

    from faceplay.media.output import atomic_output, check_output

    if live:  # the missing virtual camera backend or camera is one line, before any model loads
        from faceplay.creator.source import open_source
        from faceplay.creator.virtualcam import check_backend

        check_backend()
        source = open_source(input, camera)
    elif not input.exists():
        raise InputNotFoundError(f"{input}: no such file; check the path")
    else:
        check_output(output, input, mapping, *(a for a in avatars if a.lower().endswith((".glb", ".gltf", ".vrm"))))
    driver = DriverSettings(smoothing=smoothing, calibrate=not no_calibrate, gains=parse_gains(gains))
    if profile is not None:
        from faceplay.creator.profile import load_profile

        prof = load_profile(profile)
        typed = click.get_current_context().get_parameter_source("smoothing") == click.core.ParameterSource.COMMANDLINE
        driver = prof.driver_settings(calibrate=not no_calibrate, gains={**prof.driver_settings().gains, **parse_gains(gains)},
                                      **({"smoothing": smoothing} if typed else {}))
    cfg = AvatarConfig(skin=skin, hair=hair, hair_color=hair_color, beard=beard, eye_color=eye_color, head_shape=head_shape)
    fx = AvatarEffect(list(avatars) or "toon", mode=mode, config=cfg, auto_config=not no_auto, mapping=load_mapping(mapping),
                      driver=driver,
                      scale=scale, samples=samples, keep_head=keep_head,
                      **({"fast_pixels": live_pixels} if live_pixels else {}),
                      background=_background(background) if background or mode != "avatar-only" or live or output.suffix.lower() not in (".png", ".webm")
                      else None)
    with fx:
        if live:
            from faceplay.creator.virtualcam import run_virtual_camera

            try:
                with fx.stream() as st:
                    res = run_virtual_camera(st, source, progress=progress_enabled(as_json))
            finally:
                source.close()
        elif is_video_path(input):
            res = fx.process_video(input, output, progress=progress_enabled(as_json))
        else:
            from faceplay.media.image import read_image, write_image

            rgb = read_image(input)
            faces = fx.detect(rgb)
            out = fx.process_image(rgb, faces)
            if out.ndim == 3 and out.shape[2] == 4:
                from PIL import Image

                if output.suffix.lower() not in (".png", ".webp"):
                    raise InputError(f"{output}: a transparent result needs a .png output (or give --background)")
                with atomic_output(output) as tmp:
                    Image.fromarray(out, "RGBA").save(tmp, format="WEBP" if output.suffix.lower() == ".webp" else "PNG")
            else:
                write_image(output, out)
            res = {"output": str(output), "faces": len(faces), "width": out.shape[1], "height": out.shape[0],
                   "avatars": [{"face": i, "avatar": a.name, "config": a.config.to_dict()} for i, a in enumerate(fx.avatars)]}
            if not faces:
                res["warning"] = "no face found; the image is unchanged"
    if as_json:
        emit_json(res)
    elif live:
        click.echo(f"sent {res['frames']} frames to the virtual camera {res['virtual_camera']}")
    else:
        click.echo(f"wrote {res['output']}" + (f" ({res['frames']} frames, {res['fps']} fps)" if "frames" in res else
                                                 f" ({res['faces']} face(s))"))
