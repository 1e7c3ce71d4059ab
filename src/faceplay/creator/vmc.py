"""VMC protocol sender (OSC over UDP, python-osc) for avatar apps (VSeeFace, Warudo, VNyan, three-vrm pages).

One OSC bundle per frame, in this order:

* ``/VMC/Ext/OK`` (int loaded = 1, calibration state 3 = done, calibration mode 0, tracking status 1/0)
* ``/VMC/Ext/T`` (float seconds)
* ``/VMC/Ext/Root/Pos`` ("root", position xyz, quaternion xyzw): the avatar root stays at the origin
* ``/VMC/Ext/Bone/Pos`` for ``Neck`` (identity) and ``Head`` (the head rotation)
* ``/VMC/Ext/Blend/Val`` for the 52 ARKit names in perfect-sync spelling (``JawOpen``) and the
  VRM presets derived from them (``Blink``, ``A``, ``Joy`` ...)
* ``/VMC/Ext/Blend/Apply``

Coordinates follow Unity as VMC does: left-handed, +y up, +z the avatar's
forward, metres. faceplay's canonical face space is right-handed with +x the
person's left, so positions map to (-x, y, z) and quaternions to
(x, -y, -z, w): the avatar turns its head the way the person does.
"""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import numpy as np

from faceplay.creator.arkit import PERFECT_SYNC, vrm_presets
from faceplay.creator.sample import Sample
from faceplay.errors import ConfigError
from faceplay.face.types import BLENDSHAPE_NAMES

log = logging.getLogger(__name__)

#: Local positions sent with the bones (metres, Unity axes); receivers use the rotations.
NECK_OFFSET = (0.0, 0.1, 0.0)
HEAD_OFFSET = (0.0, 0.08, 0.0)


def parse_vmc_url(url: str) -> tuple[str, int]:
    """``vmc://HOST:PORT`` -> (host, port); a :class:`ConfigError` saying what to write otherwise."""
    u = urlsplit(url)
    try:
        port = u.port
    except ValueError:
        port = None
    if u.scheme != "vmc" or not u.hostname or port is None or port == 0 or u.path not in ("", "/"):
        raise ConfigError(f"bad --send {url!r}; write vmc://HOST:PORT, e.g. vmc://127.0.0.1:39539 "
                          "(VSeeFace / Warudo listen on 39539 by default)")
    return u.hostname, port


def to_unity_quat(q) -> tuple[float, float, float, float]:
    """An (x, y, z, w) rotation in faceplay's right-handed axes as a Unity (VMC) rotation."""
    x, y, z, w = (float(v) for v in q)
    return (x, -y, -z, w)


class VmcSender:
    """Sends one VMC bundle per :class:`Sample` to ``vmc://HOST:PORT``."""

    def __init__(self, url: str) -> None:
        try:
            from pythonosc.udp_client import UDPClient
        except ImportError:
            raise ConfigError("--send vmc:// needs python-osc; install it with: pip install 'faceplay[creator]'") from None
        self.url = url
        self.host, self.port = parse_vmc_url(url)
        try:
            self._client = UDPClient(self.host, self.port)
        except (OSError, socket.gaierror) as exc:
            raise ConfigError(f"--send {url}: cannot reach {self.host} ({exc.strerror or exc}); check the host name") from None
        self.sent = 0
        self.errors = 0

    def bundle(self, s: Sample):
        """The OSC bundle of one sample."""
        from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        def msg(address: str, *args) -> object:
            m = OscMessageBuilder(address=address)
            for a in args:
                m.add_arg(a)
            return m.build()

        b = OscBundleBuilder(IMMEDIATELY)
        b.add_content(msg("/VMC/Ext/OK", 1, 3, 0, 1 if s.tracked else 0))
        b.add_content(msg("/VMC/Ext/T", float(s.time)))
        b.add_content(msg("/VMC/Ext/Root/Pos", "root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0))
        b.add_content(msg("/VMC/Ext/Bone/Pos", "Neck", *NECK_OFFSET, 0.0, 0.0, 0.0, 1.0))
        b.add_content(msg("/VMC/Ext/Bone/Pos", "Head", *HEAD_OFFSET, *to_unity_quat(s.quat)))
        w = np.asarray(s.weights, np.float32)
        for n, v in zip(BLENDSHAPE_NAMES, w):
            b.add_content(msg("/VMC/Ext/Blend/Val", PERFECT_SYNC[n], float(v)))
        for n, v in vrm_presets(w).items():
            b.add_content(msg("/VMC/Ext/Blend/Val", n, float(v)))
        b.add_content(msg("/VMC/Ext/Blend/Apply"))
        return b.build()

    def send(self, s: Sample) -> None:
        """Send the bundle of ``s`` (a receiver that is not running is not an error: UDP)."""
        try:
            self._client.send(self.bundle(s))
            self.sent += 1
        except OSError as exc:  # e.g. ECONNREFUSED reported for an earlier datagram on loopback
            self.errors += 1
            if self.errors == 1:
                log.warning("--send %s: %s (is the receiving app listening?); still sending", self.url, exc.strerror or exc)

    def close(self) -> None:
        """Close the socket."""
        try:
            self._client._sock.close()
        except Exception:  # pragma: no cover - best effort
            pass
