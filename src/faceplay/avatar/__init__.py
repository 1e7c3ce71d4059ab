"""Live cartoon avatars: a 3D head that copies the person's expression and head pose.

Public API (lazy: importing loads no model and opens no OpenGL context)::

    from faceplay.avatar import AvatarEffect, AvatarConfig, Avatar, builtin_names
"""

from faceplay.avatar.model import Avatar, AvatarConfig, AvatarError, builtin_names, load_asset, resolve_targets


def __getattr__(name):
    if name in ("AvatarEffect", "AvatarStream", "MODES"):
        from faceplay.avatar import effect

        return getattr(effect, name)
    if name in ("DriverSettings", "FaceDriver"):
        from faceplay.avatar import driver

        return getattr(driver, name)
    raise AttributeError(name)


__all__ = ["Avatar", "AvatarConfig", "AvatarEffect", "AvatarError", "AvatarStream", "DriverSettings", "FaceDriver",
           "MODES", "builtin_names", "load_asset", "resolve_targets"]
