"""Accuracy of an INT8 variant against its float model, with each task's own metric.

Outputs of both models on the same held-out real inputs are decoded the way
the runtime decodes them and compared:

* embedding: cosine of the INT8 embedding to the float one (mean, min), and
  the same/different decision of every pair of single-person test photos
  (``../shared/data/faces``) at the model's threshold — identical decisions
  required; verification accuracy against the true identities is reported for both;
* age_gender (faceres): age MAE in years, gender agreement;
* gear: age MAE, gender and race agreement;
* expression: agreement of the top expression;
* segmentation: IoU of the person masks (probability > 0.5).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

#: pass criteria (issue 5): cosine >= 0.98 mean and identical verification decisions;
#: attribute agreement >= 95 %; age within 2 years MAE; segmentation IoU >= 0.95 mean.
MIN_COSINE = 0.98
MIN_AGREEMENT = 0.95
MAX_AGE_MAE = 2.0
MIN_IOU = 0.95

GEAR_AGE_YEARS = np.array([15.0, 23.0, 28.0, 35.5, 45.5, 55.5, 65.0])


@dataclass
class Accuracy:
    """Metric values of one variant and whether they pass."""

    metrics: dict[str, float]
    passed: bool
    failures: list[str] = field(default_factory=list)
    n: int = 0

    def to_dict(self) -> dict:
        return {"n": self.n, "passed": self.passed, "failures": self.failures,
                **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.metrics.items()}}


def session(path_or_bytes, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    src = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return ort.InferenceSession(src, sess_options=so, providers=["CPUExecutionProvider"])


def run_all(sess, arrays: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Named outputs of ``sess`` for each input array."""
    name = sess.get_inputs()[0].name
    outs = [o.name for o in sess.get_outputs()]
    return [dict(zip(outs, sess.run(None, {name: x}))) for x in arrays]


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _expect(p: np.ndarray, values: np.ndarray) -> float:
    p = np.asarray(p, np.float64).reshape(-1)
    return float((p * values).sum() / max(p.sum(), 1e-9))


def _mask(task_out: dict[str, np.ndarray]) -> np.ndarray:
    y = next(iter(task_out.values()))
    if y.shape[-1] == 2:  # meet: background, person logits
        return y[0, ..., 1] > y[0, ..., 0]
    return y[0, ..., 0] > 0.5


def compare(task: str, ref: list[dict], new: list[dict], *, identities: list[str | None] | None = None,
            threshold: float | None = None) -> Accuracy:
    """Compare float outputs ``ref`` with INT8 outputs ``new`` (same inputs, same order)."""
    m: dict[str, float] = {}
    fail: list[str] = []
    if task == "embedding":
        a = [_unit(next(iter(r.values()))) for r in ref]
        b = [_unit(next(iter(r.values()))) for r in new]
        cos = np.array([float(x @ y) for x, y in zip(a, b)])
        m["cosine_mean"], m["cosine_min"] = float(cos.mean()), float(cos.min())
        if m["cosine_mean"] < MIN_COSINE:
            fail.append(f"cosine to float {m['cosine_mean']:.4f} < {MIN_COSINE}")
        if identities is not None and threshold is not None:
            idx = [i for i, who in enumerate(identities) if who]
            same_dec = correct_f = correct_q = total = 0
            for i, j in itertools.combinations(idx, 2):
                df, dq = float(a[i] @ a[j]) >= threshold, float(b[i] @ b[j]) >= threshold
                truth = identities[i] == identities[j]
                same_dec += df == dq
                correct_f += df == truth
                correct_q += dq == truth
                total += 1
            m["pairs"] = total
            m["same_decisions"] = same_dec
            m["verification_acc_fp32"] = correct_f / max(total, 1)
            m["verification_acc_int8"] = correct_q / max(total, 1)
            if same_dec != total:
                fail.append(f"{total - same_dec} of {total} verification decisions differ from float")
    elif task == "age_gender":
        age = lambda o: _expect(o["age"][0], np.arange(o["age"].shape[-1]))  # noqa: E731
        m["age_mae_years"] = float(np.mean([abs(age(r) - age(q)) for r, q in zip(ref, new)]))
        m["gender_agreement"] = float(np.mean([(r["gender"][0, 0] > 0.5) == (q["gender"][0, 0] > 0.5) for r, q in zip(ref, new)]))
    elif task == "gear":
        m["age_mae_years"] = float(np.mean([abs(_expect(r["age"][0], GEAR_AGE_YEARS) - _expect(q["age"][0], GEAR_AGE_YEARS)) for r, q in zip(ref, new)]))
        m["gender_agreement"] = float(np.mean([r["gender"][0].argmax() == q["gender"][0].argmax() for r, q in zip(ref, new)]))
        m["race_agreement"] = float(np.mean([r["race"][0].argmax() == q["race"][0].argmax() for r, q in zip(ref, new)]))
    elif task == "expression":
        m["expression_agreement"] = float(np.mean([r["emotion"][0].argmax() == q["emotion"][0].argmax() for r, q in zip(ref, new)]))
    elif task == "segmentation":
        ious = []
        for r, q in zip(ref, new):
            a, b = _mask(r), _mask(q)
            union = np.logical_or(a, b).sum()
            ious.append(1.0 if union == 0 else float(np.logical_and(a, b).sum() / union))
        m["iou_mean"], m["iou_min"] = float(np.mean(ious)), float(np.min(ious))
        if m["iou_mean"] < MIN_IOU:
            fail.append(f"mask IoU to float {m['iou_mean']:.3f} < {MIN_IOU}")
    else:
        raise ValueError(task)
    for k, v in m.items():
        if k.endswith("_agreement") and v < MIN_AGREEMENT:
            fail.append(f"{k.replace('_', ' ')} {100 * v:.1f} % < {100 * MIN_AGREEMENT:.0f} %")
        if k == "age_mae_years" and v > MAX_AGE_MAE:
            fail.append(f"age MAE {v:.2f} years > {MAX_AGE_MAE}")
    return Accuracy(metrics=m, passed=not fail, failures=fail, n=len(ref))
