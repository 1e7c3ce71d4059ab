"""Check the INT8 candidates' accuracy on an AVX2-only CPU (no VNNI) by emulating one.

onnxruntime picks its u8s8 kernels from CPUID: exact VNNI dot products where the
CPU has them, ``VPMADDUBSW`` (16-bit saturating pair sums) on AVX2-only CPUs such
as AMD Zen 3. On a VNNI machine this script reproduces the AVX2 path under
``qemu-x86_64 -cpu Haswell`` (Debian package ``qemu-user``): it builds each
model's inputs from the bundled self-check faces natively, then runs float and
INT8 under the emulated CPU and applies the keep rule's accuracy criteria.
Only accuracy is meaningful under emulation (timings are not).

    .venv/bin/python tools/int8_on_avx2.py [sface faceres gear] [--file sface=/path/to/candidate.onnx]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger("int8_on_avx2")


def dump_inputs(names: list[str], out: Path) -> None:
    from faceplay.quantize.selfcheck import inputs_for

    arrays = {}
    for n in names:
        a, ident = inputs_for(n)
        arrays[n] = np.concatenate(a, 0)
        arrays[f"{n}__ident"] = np.array([i or "" for i in ident])
    np.savez(out, **arrays)


def compare(npz: Path, names: list[str], files: dict[str, str]) -> dict:
    """Runs inside the emulated CPU: float vs INT8 accuracy per model."""
    from faceplay.machine import cpu_info
    from faceplay.models import store
    from faceplay.models.precision import int8_candidate
    from faceplay.quantize import validate
    from faceplay.quantize.specs import SPECS

    d = np.load(npz)
    out = {"cpu": cpu_info().to_dict(), "models": {}}
    for n in names:
        x = d[n]
        arrs = [x[i:i + 1] for i in range(len(x))]
        ident = [i or None for i in d[f"{n}__ident"]]
        q = files.get(n) or str(store.model_path(int8_candidate(n).name))
        threshold = 0.363 if SPECS[n].task == "embedding" else None
        acc = validate.compare(SPECS[n].task, validate.run_all(validate.session(store.model_path(n)), arrs),
                               validate.run_all(validate.session(q), arrs), identities=ident, threshold=threshold)
        out["models"][n] = {"file": Path(q).name, **acc.to_dict()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=["sface", "faceres", "gear"])
    ap.add_argument("--file", action="append", default=[], help="NAME=PATH: check this INT8 file instead of the shipped one")
    ap.add_argument("--cpu", default="Haswell", help="qemu CPU model without VNNI (default Haswell: AVX2, FMA)")
    ap.add_argument("--inside", help=argparse.SUPPRESS)
    args = ap.parse_args()
    files = dict(f.split("=", 1) for f in args.file)
    if args.inside:
        print(json.dumps(compare(Path(args.inside), args.names, files)))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("qemu-x86_64 not found: apt-get install qemu-user")
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "inputs.npz"
        dump_inputs(args.names, npz)
        cmd = [qemu, "-cpu", args.cpu, sys.executable, __file__, *args.names, "--inside", str(npz),
               *sum((["--file", f] for f in args.file), [])]
        log.info("running under %s -cpu %s (slow: minutes per model)", qemu, args.cpu)
        res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(res.stderr[-2000:])
    print(res.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
