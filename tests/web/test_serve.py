"""`faceplay serve` as a user runs it: binds to localhost, logs requests, stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def test_serve_logs_requests_and_stops_cleanly(tmp_path):
    import httpx

    from faceplay.web.harness import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "faceplay.cli", "serve", "--port", str(port), "--data", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                r = httpx.get(url + "/api/health", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
        assert r.status_code == 200
        assert httpx.get(url + "/api/jobs/" + "0" * 32, timeout=5).status_code == 404
        with httpx.Client() as c:  # loopback only: the default host is 127.0.0.1
            assert c.get(url + "/relight", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    err = proc.stderr.read()
    assert code == 0, err
    assert "GET /api/health 200" in err and "GET /api/jobs/" in err and " 404 " in err
    assert "shutting down" in err and "Traceback" not in err
    assert (tmp_path / "uploads").is_dir() and (tmp_path / "jobs").is_dir()
