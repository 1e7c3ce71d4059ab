"""``faceplay bench web``: live fps / latency measured by the page in headless Chromium, and a bounded load soak.

Everything runs on this machine: the server is started as a separate process
on 127.0.0.1, the browser plays a real talking-head video as its webcam, and
the load clients talk only to that server. Figures are reported with a
baseline measured in the same run (the same per-frame work called directly in
Python, and one client alone), because the shared CPU makes absolute numbers noisy.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from faceplay.clikit import emit_json, json_option, table

log = logging.getLogger(__name__)


def start_server(data: Path, port: int) -> subprocess.Popen:
    """``faceplay serve`` in a child process on 127.0.0.1:``port``, returned once it answers /api/health.

    Its log (one line per request) goes to ``server.log`` beside ``data``: a pipe nobody
    reads would fill up during a soak and block the server.
    """
    import httpx

    data.mkdir(parents=True, exist_ok=True)
    log_path = data.parent / "server.log"
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "faceplay.cli", "serve", "--port", str(port), "--data", str(data)],
                                stdout=subprocess.DEVNULL, stderr=log_file)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise click.ClickException(f"the server exited: {log_path.read_text(errors='replace')[-500:]}")
        time.sleep(0.2)
    proc.kill()
    raise click.ClickException("the server did not start in 60 s")


def stop_server(proc: subprocess.Popen) -> dict:
    """Ctrl-C the server and wait for it: exit code and shut-down seconds."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = None
    return {"exit_code": code, "shutdown_s": round(time.monotonic() - t0, 2)}


def _direct_baseline(effect: str, frames: list[bytes], n: int = 40) -> dict:
    """The live per-frame work (decode, track, effect, encode) called directly, no web in between."""
    from faceplay.web.config import Settings
    from faceplay.web.engines import Engines
    from faceplay.web.live import LiveEffect

    with tempfile.TemporaryDirectory() as d:
        fx = LiveEffect(effect, Engines(Settings(data_dir=d)))
        try:
            for jpeg in frames[:5]:
                fx.process(jpeg, 1920 * 1080, 80)
            times = []
            for i in range(n):
                t0 = time.perf_counter()
                fx.process(frames[i % len(frames)], 1920 * 1080, 80)
                times.append((time.perf_counter() - t0) * 1000)
        finally:
            fx.close()
    t = np.asarray(times)
    return {"ms_p50": round(float(np.median(t)), 1), "fps": round(1000 / float(np.mean(t)), 2)}


def _browser_run(url: str, effect: str, y4m: Path, seconds: float, warmup: float = 6.0) -> dict:
    from playwright.sync_api import sync_playwright

    from faceplay.web.harness import launch_chromium

    with sync_playwright() as p:
        b = launch_chromium(p, y4m)
        try:
            page = b.new_page(viewport={"width": 1240, "height": 860})
            page.goto(f"{url}/{effect}")
            time.sleep(warmup)
            start = page.evaluate("performance.now()")
            d0 = page.evaluate("window.faceplayStats ? window.faceplayStats.dropped : 0")
            time.sleep(seconds)
            samples = page.evaluate(f"(window.faceplaySamples || []).filter(s => s[0] >= {start})")
            stats = page.evaluate("({...window.faceplayStats})")
            err = page.inner_text("#error")
        finally:
            b.close()
    if not samples:
        return {"effect": effect, "error": err or "no frames came back"}
    s = np.asarray(samples)
    span = (s[-1, 0] - s[0, 0]) / 1000 if len(s) > 1 else seconds
    return {"effect": effect, "frames": len(s), "fps": round((len(s) - 1) / span, 2) if span > 0 else None,
            "rtt_p50_ms": round(float(np.percentile(s[:, 1], 50)), 1),
            "rtt_p95_ms": round(float(np.percentile(s[:, 1], 95)), 1),
            "server_p50_ms": round(float(np.percentile(s[:, 2], 50)), 1),
            "dropped": int(stats["dropped"] - d0), "faces": stats["faces"]}


def _churn(url: str, pid: int, effect: str, frames: list[bytes], clients: int, seconds: float) -> dict:
    """The session soak: server RSS (after a few warm-up sessions) before and after ``seconds`` of churn."""
    from faceplay.web.loadtest import load_churn, process_rss_mb, run_sync

    run_sync(load_churn(url, effect, frames, clients=min(clients, 4), seconds=3.0))  # warm-up sessions
    time.sleep(1.0)
    start = process_rss_mb(pid)
    res = run_sync(load_churn(url, effect, frames, clients=clients, seconds=seconds)).summary()
    time.sleep(2.0)  # the last sessions' clean-up
    end = process_rss_mb(pid)
    res.update(rss_start_mb=start, rss_end_mb=end,
               rss_mb_per_session=round((end - start) / max(res["completed"], 1), 3) if start and end else None)
    return res


@click.command("web")
@click.option("--seconds", type=click.FloatRange(3, 600), default=20.0, show_default=True,
              help="Measured seconds per live page in the browser.")
@click.option("--load-seconds", type=click.FloatRange(1, 600), default=60.0, show_default=True,
              help="Duration of each load run (REST analyze, live WebSocket).")
@click.option("--clients", type=click.IntRange(1, 64), default=20, show_default=True, help="Concurrent load clients.")
@click.option("--churn-seconds", type=click.FloatRange(0, 600), default=60.0, show_default=True,
              help="Session soak: CLIENTS loops opening a live session, sending 3 frames and closing it "
                   "(server RSS at start and end); 0 skips it.")
@click.option("--skip-browser", is_flag=True, help="Only the load runs.")
@click.option("--skip-load", is_flag=True, help="Only the browser runs.")
@click.option("--port", type=int, default=0, help="Server port [a free one].")
@json_option
def web(seconds, load_seconds, churn_seconds, clients, skip_browser, skip_load, port, as_json) -> None:
    """Live avatar / relight fps and latency in headless Chromium at 640x480, plus load soaks.

    Soaks (loopback only): CLIENTS concurrent REST analyze calls; CLIENTS live
    streams; CLIENTS loops opening and closing live sessions (server RSS at
    start and end, no 5xx).

    Goal on 2 cores: >= 20 fps and p95 round trip <= 150 ms. Needs the shared
    test videos (../shared/data), Debian chromium and playwright.
    """
    from faceplay.bench.harness import shared_data
    from faceplay.web.engines import feature_available
    from faceplay.web.harness import fake_camera_y4m, free_port
    from faceplay.web.loadtest import camera_frames, load_live, load_rest, run_sync

    video = shared_data() / "videos" / "talking_d0.mp4"
    photo = shared_data() / "faces" / "obama_obama.jpg"
    if not video.exists():
        raise click.ClickException(f"{video} not found; the benchmark needs ../shared/data")
    effects = [e for e in ("avatar", "relight") if feature_available(e)]
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    out: dict = {"effects": effects, "browser": [], "baseline": {}, "load": []}
    frames = camera_frames(video, 40)
    with tempfile.TemporaryDirectory(prefix="faceplay-bench-web-") as tmp:
        tmp = Path(tmp)
        y4m = fake_camera_y4m(video, tmp / "cam.y4m", seconds=3.0)
        for e in effects:
            out["baseline"][e] = _direct_baseline(e, frames)
        proc = start_server(tmp / "data", port)
        try:
            if not skip_browser:
                for e in effects:
                    r = _browser_run(url, e, y4m, seconds)
                    base = out["baseline"][e]
                    if r.get("fps"):
                        r["fps_vs_direct"] = round(r["fps"] / base["fps"], 2)
                    out["browser"].append(r)
            if not skip_load:
                files = {"file": (photo.name, photo.read_bytes(), "image/jpeg")}
                single = run_sync(load_rest(url, "/api/analyze?fields=", files, clients=1, seconds=min(10, load_seconds),
                                               name="POST /api/analyze (1 client)"))
                many = run_sync(load_rest(url, "/api/analyze?fields=", files, clients=clients, seconds=load_seconds,
                                             name=f"POST /api/analyze ({clients} clients)"))
                out["load"] += [single.summary(), many.summary()]
                eff = "avatar" if "avatar" in effects else effects[0] if effects else None
                if eff:
                    live = run_sync(load_live(url, eff, frames, clients=clients, seconds=load_seconds))
                    out["load"].append(live.summary())
                if eff and churn_seconds:
                    out["churn"] = _churn(url, proc.pid, eff, frames, clients, churn_seconds)
                    out["load"].append(out["churn"])
                import httpx

                out["healthy_after_load"] = httpx.get(url + "/api/health", timeout=10).status_code == 200
        finally:
            out["shutdown"] = stop_server(proc)
    if as_json:
        emit_json(out)
        return
    click.echo(f"direct baseline (no web): {out['baseline']}")
    if out["browser"]:
        click.echo(table([[r["effect"], r.get("fps"), r.get("fps_vs_direct"), r.get("rtt_p50_ms"), r.get("rtt_p95_ms"),
                           r.get("server_p50_ms"), r.get("dropped"), r.get("error", "")] for r in out["browser"]],
                         ["page", "fps", "fps/direct", "rtt p50 ms", "rtt p95 ms", "server p50 ms", "dropped", "error"]))
    if out["load"]:
        click.echo(table([[r["name"], r["completed"], r["per_second"], r["p50_ms"], r["p99_ms"], r["server_errors"],
                           r["n_errors"], r["dropped"]] for r in out["load"]],
                         ["load", "done", "per s", "p50 ms", "p99 ms", "5xx", "errors", "dropped"]))
        click.echo(f"healthy after load: {out.get('healthy_after_load')}")
    if out.get("churn"):
        c = out["churn"]
        click.echo(f"session soak: {c['completed']} sessions, server RSS {c['rss_start_mb']} -> {c['rss_end_mb']} MB "
                   f"({c['rss_mb_per_session']} MB/session), 5xx {c['server_errors']}")
    click.echo(f"shutdown: {out['shutdown']}")
