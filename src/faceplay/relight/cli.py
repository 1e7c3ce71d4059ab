"""`faceplay relight`: relight a portrait photo or video with presets or custom lights."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from faceplay.clikit import emit_json, json_option, progress_enabled, table
from faceplay.errors import ConfigError, InputError, InputNotFoundError

log = logging.getLogger(__name__)


def _build_rig(preset_name, lights, rig_json):
    from faceplay.relight.lights import custom_rig, parse_light, preset, rig_from_json

    base = rig_from_json(rig_json) if rig_json else None
    if preset_name:
        p = preset(preset_name)
        base = p if base is None else custom_rig(list(base.lights), p)
    parsed = [parse_light(s) for s in lights]
    if parsed:
        return custom_rig(parsed, base)
    if base is None:
        return preset("studio")
    return base


@click.command()
@click.argument("input", required=False, type=click.Path())
@click.option("-o", "--output", type=click.Path(), help="Output image / video (or the contact sheet with --gallery).")
@click.option("--preset", "preset_name",
              help="A light preset (see --list-presets), or 'auto': a portrait light chosen for this face "
                   "(broad key at 2:1, catchlights kept; the choice is explained in --json). Default: studio.")
@click.option("--light-from", "light_from", type=click.Path(),
              help="Copy the light of the face in this reference photo (direction, colour, key-to-fill).")
@click.option("--env", "env", type=click.Path(),
              help="Light from an equirectangular HDR environment (.hdr, .exr): its bright sources become key "
                   "lights with shadows, the rest SH fill. Centre column = towards the camera, left quarter = image left.")
@click.option("--env-rotate", type=float, default=0.0, show_default=True, metavar="DEG",
              help="Turn the --env environment about the vertical axis by DEG (a light at az moves to az+DEG).")
@click.option("--light", "lights", multiple=True,
              help="Custom light, repeatable: 'type=directional,az=-60,el=20,color=#ffd0a0,intensity=1.5' "
                   "(type directional|point|area|ambient; az<0 = image left; el>0 = above). Added to the chosen light.")
@click.option("--rig", "rig_json", type=click.Path(), help="A JSON light rig file ({\"lights\": [{...}], ...}).")
@click.option("--strength", type=float, default=None,
              help="0 = unchanged … 1 = full relight (up to 2). Default: 1 with --light-from / --env / --preset auto, else 0.8.")
@click.option("--blend", type=click.Choice(["ratio", "multiply", "add"]), default="ratio", show_default=True,
              help="ratio replaces the original shading; multiply keeps it and adds the new light's shape; add only brightens.")
@click.option("--passes", "passes_dir", type=click.Path(),
              help="Folder for render passes: normals + depth (16-bit PNG), albedo, shading before/after, specular, "
                   "matte (a photo: one file each; a video: a numbered sequence per pass; see passes.json there).")
@click.option("--debug-layers", type=click.Path(), help="Folder for the shading map, masks, normals and mesh overlay (PNG).")
@click.option("--list-presets", is_flag=True, help="List the presets and exit.")
@click.option("--gallery", "gallery_flag", is_flag=True, help="Write a contact sheet of INPUT under every preset to -o.")
@click.option("--matte", type=click.Choice(["auto", "rvm", "mesh"]), default="auto", show_default=True,
              help="Foreground matte: person segmentation (auto, fast), Robust Video Matting (rvm, finer, slow) "
                   "or a head matte from the face mesh.")
@json_option
def relight(input, output, preset_name, light_from, env, env_rotate, lights, rig_json, strength, blend, passes_dir,
            debug_layers, list_presets, gallery_flag, matte, as_json):
    """Relight a portrait photo or video: natural face-shaped light, a reference photo's light, an HDR environment.

    \b
    Examples:
      faceplay relight portrait.jpg -o out.jpg --preset rembrandt
      faceplay relight portrait.jpg -o out.jpg --preset auto --json
      faceplay relight me.jpg -o out.jpg --light-from lit_like_this.jpg
      faceplay relight clip.mp4 -o out.mp4 --env studio.hdr --env-rotate 90
      faceplay relight me.jpg -o out.jpg --preset left --passes passes/
      faceplay relight dark.jpg -o fixed.jpg --preset backlit-fix --strength 1
      faceplay relight me.jpg --gallery -o sheet.png
    """
    from faceplay.relight.lights import PRESETS

    if list_presets:
        if as_json:
            emit_json({"presets": [r.to_dict() for r in PRESETS.values()] + [_AUTO]})
        else:
            click.echo(table([(r.name, len(r.lights), r.description) for r in PRESETS.values()]
                             + [(_AUTO["name"], 2, _AUTO["description"])], ["preset", "lights", "description"]))
        return
    if not input:
        raise InputError("missing INPUT: give a photo or video to relight (or use --list-presets)")
    src = Path(input)
    if not src.exists():
        raise InputNotFoundError(f"{src}: no such file; check the path")
    chosen = [n for n, v in (("--preset", preset_name), ("--light-from", light_from), ("--env", env)) if v]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)} both choose the light: use only one of them")
    if env_rotate and not env:
        raise ConfigError("--env-rotate turns an --env environment: give --env FILE.hdr too")
    auto = (preset_name or "").strip().lower() == "auto"
    if strength is None:
        strength = 1.0 if (auto or light_from or env) else 0.8
    if not (0.0 <= strength <= 2.0):
        raise ConfigError(f"--strength must be between 0 and 2, not {strength}")
    for path, opt in ((light_from, "--light-from"), (env, "--env")):
        if path and not Path(path).is_file():
            raise InputNotFoundError(f"{path}: no such file for {opt}; check the path")
    rig = None if (auto or light_from or env) else _build_rig(preset_name, lights, rig_json)
    if not output:
        raise InputError("missing -o/--output: say where to write the result")
    from faceplay.media.output import check_output

    check_output(output, src, rig_json)

    from faceplay.media import is_video_path
    from faceplay.media.image import write_image
    from faceplay.relight.api import gallery, relight_video, write_debug_layers
    from faceplay.relight.relighter import Relighter

    if gallery_flag:
        if is_video_path(src):
            raise InputError("--gallery needs a photo, not a video")
        with Relighter(matte=matte) as r:
            sheet = gallery(src, strength, relighter=r)
        write_image(output, sheet)
        summary = {"input": str(src), "output": str(output), "presets": list(PRESETS)}
        emit_json(summary) if as_json else click.echo(f"contact sheet of {len(PRESETS)} presets written to {output}")
        return

    from faceplay.face.analyzer import FaceAnalyzer
    from faceplay.relight.api import first_frame_with_face

    video = is_video_path(src)
    with FaceAnalyzer() as fa, Relighter(matte=matte, video=video) as r:
        if video:
            rgb, faces = first_frame_with_face(src, fa)
        else:
            from faceplay.media.image import read_image

            rgb = read_image(src)
            if rgb.ndim == 3 and rgb.shape[2] == 4:
                rgb = rgb[..., :3].copy()
            faces = fa.analyze(rgb)
        light = {}
        if rig is None:
            rig, light = _chosen_rig(r, fa, rgb, faces, auto, light_from, env, env_rotate, strength, blend,
                                     lights, rig_json)
        if video:
            if debug_layers:
                log.warning("--debug-layers is for photos; ignored for a video")
            summary = relight_video(src, output, rig, strength, blend=blend, progress=progress_enabled(as_json),
                                    relighter=r, passes=passes_dir, catchlights=auto)
            summary.update(light)
            if passes_dir:
                summary["passes"] = str(passes_dir)
            if as_json:
                emit_json(summary)
            else:
                click.echo(f"{summary['frames']} frames ({summary['frames_with_faces']} with faces) relit with "
                           f"{rig.name} → {output} ({summary['fps']} fps)")
            return
        from faceplay.relight.api import relight_image

        res = relight_image(rgb, rig, strength, faces=faces, blend=blend, relighter=r,
                            keep_layers=bool(debug_layers or passes_dir))
    if auto and faces:
        from faceplay.relight.auto import keep_catchlights

        light.setdefault("auto", {})["catchlight_pixels"] = keep_catchlights(rgb, res.image, faces)
    for w in res.warnings:
        click.echo(f"faceplay: warning: {w}", err=True)
    write_image(output, res.image)
    written, passes = [], {}
    if debug_layers and res.layers is not None:
        written = [str(p) for p in write_debug_layers(debug_layers, rgb, res)]
    if passes_dir:
        from faceplay.relight.passes import write_photo

        passes = write_photo(passes_dir, rgb, res)
    summary = {"input": str(src), "output": str(output), "faces": res.n_faces, "rig": rig.to_dict(),
               "strength": strength, "blend": blend, "warnings": res.warnings, "debug_layers": written,
               "estimated_light_sh": res.sh, **light, **({"passes": passes} if passes_dir else {})}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{res.n_faces} face(s) relit with {rig.name} → {output}"
                   + (f"; {len(written)} debug layers in {debug_layers}" if written else "")
                   + (f"; {len(passes)} passes in {passes_dir}" if passes else "")
                   + (f"\n{light['auto']['explanation']}" if "explanation" in light.get("auto", {}) else ""))


_AUTO = {"name": "auto", "description": "portrait light chosen per face: broad key at 2:1 over a soft fill, "
                                        "exposure lifted for dark faces, catchlights kept", "lights": []}


def _chosen_rig(r, fa, rgb, faces, auto, light_from, env, env_rotate, strength, blend, lights, rig_json):
    """The rig of --preset auto / --light-from / --env (+ --light / --rig), and what to report about it."""
    import numpy as np

    from faceplay.relight.lights import custom_rig, parse_light, rig_from_json

    extra = [parse_light(s) for s in lights] + (list(rig_from_json(rig_json).lights) if rig_json else [])
    if auto:
        if not faces:
            raise InputError("--preset auto needs a face in the input to choose a light for; none was found")
        from faceplay.relight.auto import auto_rig

        rig, info = auto_rig(r, rgb, faces, strength, blend)
        return (custom_rig(extra, rig) if extra else rig), {"auto": info}
    if light_from:
        from faceplay.relight.reference import light_from_reference, match_light

        rig, info = light_from_reference(light_from, relighter=r, analyzer=fa)
        if extra:
            rig = custom_rig(extra, rig)
        if faces:  # fit the rig to this face so its result shows the reference's light
            rig, info["match"] = match_light(r, rgb, faces, rig, np.asarray(info["sh"]), strength, blend=blend)
        info.pop("sh", None)
        return rig, {"light_from": {"reference": str(light_from), **info}}
    from faceplay.relight.envmap import light_from_env

    rig, info = light_from_env(env, env_rotate)
    return (custom_rig(extra, rig) if extra else rig), {"env": info}
