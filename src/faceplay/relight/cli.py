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
@click.option("--preset", "preset_name", help="A light preset (see --list-presets). Default: studio.")
@click.option("--light", "lights", multiple=True,
              help="Custom light, repeatable: 'type=directional,az=-60,el=20,color=#ffd0a0,intensity=1.5' "
                   "(type directional|point|area|ambient; az<0 = image left; el>0 = above). Added to --preset if given.")
@click.option("--rig", "rig_json", type=click.Path(), help="A JSON light rig file ({\"lights\": [{...}], ...}).")
@click.option("--strength", type=float, default=0.8, show_default=True, help="0 = unchanged … 1 = full relight (up to 2).")
@click.option("--blend", type=click.Choice(["ratio", "multiply", "add"]), default="ratio", show_default=True,
              help="ratio replaces the original shading; multiply keeps it and adds the new light's shape; add only brightens.")
@click.option("--debug-layers", type=click.Path(), help="Folder for the shading map, masks, normals and mesh overlay (PNG).")
@click.option("--list-presets", is_flag=True, help="List the presets and exit.")
@click.option("--gallery", "gallery_flag", is_flag=True, help="Write a contact sheet of INPUT under every preset to -o.")
@click.option("--matte", type=click.Choice(["auto", "rvm", "mesh"]), default="auto", show_default=True,
              help="Foreground matte: person segmentation (auto, fast), Robust Video Matting (rvm, finer, slow) "
                   "or a head matte from the face mesh.")
@json_option
def relight(input, output, preset_name, lights, rig_json, strength, blend, debug_layers, list_presets, gallery_flag,
            matte, as_json):
    """Relight a portrait photo or video: natural face-shaped light or a stylised scene light.

    \b
    Examples:
      faceplay relight portrait.jpg -o out.jpg --preset rembrandt
      faceplay relight dark.jpg -o fixed.jpg --preset backlit-fix --strength 1
      faceplay relight clip.mp4 -o out.mp4 --preset neon
      faceplay relight me.jpg -o out.jpg --light 'type=point,az=60,el=10,color=#88aaff,intensity=1.5'
      faceplay relight me.jpg --gallery -o sheet.png
    """
    from faceplay.relight.lights import PRESETS

    if list_presets:
        if as_json:
            emit_json({"presets": [r.to_dict() for r in PRESETS.values()]})
        else:
            click.echo(table([(r.name, len(r.lights), r.description) for r in PRESETS.values()],
                             ["preset", "lights", "description"]))
        return
    if not input:
        raise InputError("missing INPUT: give a photo or video to relight (or use --list-presets)")
    src = Path(input)
    if not src.exists():
        raise InputNotFoundError(f"{src}: no such file; check the path")
    if not (0.0 <= strength <= 2.0):
        raise ConfigError(f"--strength must be between 0 and 2, not {strength}")
    rig = _build_rig(preset_name, lights, rig_json)
    if not output:
        raise InputError("missing -o/--output: say where to write the result")
    from faceplay.media.output import check_output

    check_output(output, src, rig_json)

    from faceplay.media import is_video_path
    from faceplay.media.image import write_image
    from faceplay.relight.api import gallery, relight_image, relight_video, write_debug_layers
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

    if is_video_path(src):
        if debug_layers:
            log.warning("--debug-layers is for photos; ignored for a video")
        with Relighter(matte=matte, video=True) as r:
            summary = relight_video(src, output, rig, strength, blend=blend, progress=progress_enabled(as_json), relighter=r)
        if as_json:
            emit_json(summary)
        else:
            click.echo(f"{summary['frames']} frames ({summary['frames_with_faces']} with faces) relit with "
                       f"{rig.name} → {output} ({summary['fps']} fps)")
        return

    from faceplay.media.image import read_image

    rgb = read_image(src)
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        rgb = rgb[..., :3].copy()
    with Relighter(matte=matte) as r:
        res = relight_image(rgb, rig, strength, blend=blend, relighter=r, keep_layers=bool(debug_layers))
    for w in res.warnings:
        click.echo(f"faceplay: warning: {w}", err=True)
    write_image(output, res.image)
    written = []
    if debug_layers and res.layers is not None:
        written = [str(p) for p in write_debug_layers(debug_layers, rgb, res)]
    summary = {"input": str(src), "output": str(output), "faces": res.n_faces, "rig": rig.to_dict(),
               "strength": strength, "blend": blend, "warnings": res.warnings, "debug_layers": written,
               "estimated_light_sh": res.sh}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{res.n_faces} face(s) relit with {rig.name} → {output}"
                   + (f"; {len(written)} debug layers in {debug_layers}" if written else ""))
