"""faceplay as the face tracker of creator tools.

``faceplay track`` runs only the face tracker and feeds avatar apps and DCC
tools, once per frame:

* :mod:`~faceplay.creator.vmc` — the VMC protocol (OSC/UDP) with perfect-sync ARKit names and VRM presets;
* :mod:`~faceplay.creator.livelink` — Live Link Face CSV takes (Unreal, Blender, Maya importers);
* :mod:`~faceplay.creator.take` — glTF 2.0 animation takes of an avatar (Blender, three.js);
* :mod:`~faceplay.creator.profile` — per-user calibration and sensitivity profiles;
* :mod:`~faceplay.creator.virtualcam` — the avatar as a virtual camera (OBS) through pyvirtualcam.

:mod:`~faceplay.creator.session` is the loop, :mod:`~faceplay.creator.source`
the frames (file or camera), :mod:`~faceplay.creator.sample` one frame's data.
"""
