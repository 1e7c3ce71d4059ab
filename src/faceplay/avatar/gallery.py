"""Contact sheet of avatars: a few expressions and head turns per avatar."""

from __future__ import annotations

import numpy as np

from faceplay.avatar.model import Avatar, AvatarConfig, builtin_names

#: (label, weights, yaw degrees)
POSES: tuple[tuple[str, dict[str, float], float], ...] = (
    ("neutral", {}, 0.0),
    ("smile", {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "cheekSquintLeft": 0.6, "cheekSquintRight": 0.6,
               "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3}, 0.0),
    ("mouth open", {"jawOpen": 0.9, "mouthFunnel": 0.1}, 0.0),
    ("blink", {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}, 0.0),
    ("brows up", {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0, "eyeWideLeft": 0.8,
                  "eyeWideRight": 0.8}, 0.0),
    ("tongue", {"jawOpen": 0.5, "tongueOut": 1.0}, 0.0),
    ("turn left", {"eyeLookOutLeft": 0.6, "eyeLookInRight": 0.6}, 35.0),
    ("turn right", {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}, -35.0),
)


def render_sheet(names: list[str] | None = None, tile: int = 256, renderer=None, configs: dict[str, AvatarConfig] | None = None,
                 background=(236, 238, 243), live: bool = False) -> np.ndarray:
    """RGB contact sheet: one row per avatar, one column per entry of :data:`POSES`, with labels.

    ``live``: each tile as video and live frames draw it - at the live pixel budget
    (:data:`~faceplay.avatar.effect.LIVE_PIXELS`, upscaled), without MSAA, the live program, key + IBL
    light, silhouette smoothed.
    """
    from PIL import Image, ImageDraw

    from faceplay.render.camera import Camera
    from faceplay.render.composite import over_color
    from faceplay.render.lights import Lighting
    from faceplay.render.renderer import Renderer

    names = names or builtin_names()
    r = renderer or Renderer(samples=4)
    light = Lighting.fast() if live else Lighting.studio()
    from faceplay.avatar.effect import LIVE_PIXELS

    small = int(min(tile, LIVE_PIXELS ** 0.5))
    label_h = 22
    rows = []
    for name in names:
        av = Avatar(name, r, config=(configs or {}).get(name))
        lo, hi = av.bounds()
        centre = (lo + hi) / 2
        size = float(np.max(hi - lo))
        tiles = []
        for label, w, yaw in POSES:
            av.set_weights(w)
            side = small if live else tile
            cam = Camera.orbit(side, side, target=centre, distance=size * 3.2, yaw_deg=yaw, pitch_deg=4, fovy_deg=22)
            if live:
                import cv2

                from faceplay.avatar.scene import soften_edges

                rgba = soften_edges(r.render(av.draw_items(np.eye(4)), cam, light, samples=0, cheap=True).color)
                img = over_color(cv2.resize(rgba, (tile, tile), interpolation=cv2.INTER_LINEAR), background)
            else:
                img = over_color(r.render(av.draw_items(np.eye(4)), cam, light).color, background)
            tiles.append(img)
        av.release()
        row = np.concatenate(tiles, axis=1)
        bar = Image.new("RGB", (row.shape[1], label_h), tuple(int(c * 0.92) for c in background))
        d = ImageDraw.Draw(bar)
        title = (av.meta.get("title") or name)
        for k, (label, _, _) in enumerate(POSES):
            d.text((k * tile + 6, 5), f"{title.split(' (')[0] if k == 0 else ''}{' - ' if k == 0 else ''}{label}",
                   fill=(40, 40, 48))
        rows.append(np.concatenate([np.asarray(bar), row], axis=0))
    return np.concatenate(rows, axis=0)
