"""MediaPipe's canonical face mesh, read from the FaceLandmarker task bundle.

The bundle (``faceplay.models.model_path("face_landmarker")``, a zip) holds
``geometry_pipeline_metadata_landmarks.binarypb``, a protobuf
``GeometryPipelineMetadata``::

    message GeometryPipelineMetadata {
      optional Mesh3d canonical_mesh = 1;
      repeated WeightedLandmarkRef procrustes_landmark_basis = 2;  // landmark_id=1, weight=2
      optional InputSource input_source = 3;
    }
    message Mesh3d {
      optional VertexType vertex_type = 1;        // VERTEX_PT: x, y, z, u, v
      optional PrimitiveType primitive_type = 2;  // TRIANGLE
      repeated float vertex_buffer = 3 [packed = true];
      repeated uint32 index_buffer = 4 [packed = true];
    }

The mediapipe wheel ships no Python bindings for it, so the wire format is
decoded here by hand (varints, length-delimited fields, packed floats / ints).
The mesh is in centimetres, +y up, +z towards the viewer (MediaPipe's
canonical face model space, the space ``Face.pose.matrix`` maps from).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

METADATA_FILE = "geometry_pipeline_metadata_landmarks.binarypb"


@dataclass(frozen=True)
class CanonicalMesh:
    """The 468-vertex canonical face mesh."""

    vertices: np.ndarray  #: (468, 3) float32, centimetres
    uvs: np.ndarray  #: (468, 2) float32, texture coordinates (v down, as in MediaPipe's texture)
    triangles: np.ndarray  #: (898, 3) int32 vertex indices, counter-clockwise seen from the front
    procrustes_ids: np.ndarray  #: (K,) int32 landmark ids MediaPipe uses for its pose Procrustes
    procrustes_weights: np.ndarray  #: (K,) float32 their weights


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = 0
    out = 0
    while True:
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7


def _fields(buf: bytes):
    """Yield (field_number, wire_type, value) of one protobuf message."""
    i = 0
    n = len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            v = buf[i:i + ln]
            i += ln
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:  # groups are not used by this schema
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield field, wt, v


def _packed_varints(buf: bytes) -> list[int]:
    out = []
    i = 0
    while i < len(buf):
        v, i = _varint(buf, i)
        out.append(v)
    return out


def parse_metadata(data: bytes) -> CanonicalMesh:
    """Decode a ``GeometryPipelineMetadata`` protobuf into a :class:`CanonicalMesh`."""
    vbuf: list[float] = []
    ibuf: list[int] = []
    ids: list[int] = []
    weights: list[float] = []
    for field, wt, v in _fields(data):
        if field == 2 and wt == 2:  # WeightedLandmarkRef
            lid, w = 0, 0.0
            for f2, wt2, v2 in _fields(v):
                if f2 == 1 and wt2 == 0:
                    lid = v2
                elif f2 == 2 and wt2 == 5:
                    w = float(np.frombuffer(v2, "<f4")[0])
            ids.append(lid)
            weights.append(w)
        elif field == 1 and wt == 2:  # Mesh3d
            for f2, wt2, v2 in _fields(v):
                if f2 == 3:
                    if wt2 == 2:
                        vbuf.extend(np.frombuffer(v2, "<f4").tolist())
                    else:
                        vbuf.append(float(np.frombuffer(v2, "<f4")[0]))
                elif f2 == 4:
                    if wt2 == 2:
                        ibuf.extend(_packed_varints(v2))
                    else:
                        ibuf.append(v2)
    verts = np.asarray(vbuf, np.float32).reshape(-1, 5)
    return CanonicalMesh(
        vertices=np.ascontiguousarray(verts[:, :3]),
        uvs=np.ascontiguousarray(verts[:, 3:5]),
        triangles=np.asarray(ibuf, np.int32).reshape(-1, 3),
        procrustes_ids=np.asarray(ids, np.int32),
        procrustes_weights=np.asarray(weights, np.float32),
    )


@lru_cache(maxsize=1)
def canonical_mesh() -> CanonicalMesh:
    """The canonical face mesh of the bundled FaceLandmarker (parsed once, cached).

    >>> m = canonical_mesh()
    >>> m.vertices.shape, m.triangles.shape
    ((468, 3), (898, 3))
    """
    from faceplay.models import model_path

    with zipfile.ZipFile(model_path("face_landmarker")) as z:
        data = z.read(METADATA_FILE)
    return parse_metadata(data)
