"""Face geometry: the canonical mesh, the morphable face model and its per-frame fit.

>>> from faceplay.geometry import canonical_mesh, load_model, FaceFitter
"""

from faceplay.geometry.canonical import CanonicalMesh, canonical_mesh
from faceplay.geometry.fit import DenseMesh, FaceFit, FaceFitter
from faceplay.geometry.model import MorphableModel, load_model, subdivision, vertex_normals

__all__ = ["CanonicalMesh", "canonical_mesh", "MorphableModel", "load_model", "subdivision", "vertex_normals",
           "FaceFitter", "FaceFit", "DenseMesh"]
