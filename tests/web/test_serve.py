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


def test_port_in_use_is_one_clear_line_before_any_announcement(tmp_path):
    """Issue 14 #8: a taken port is reported as such (exit 2), and the server is never announced."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "faceplay.cli", "serve", "--port", str(port), "--data", str(tmp_path)],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"faceplay: error: port {port} on 127.0.0.1 is already in use (another faceplay serve?); "
                     "stop that server or choose another --port"], proc.stderr
    assert "web app on" not in proc.stderr and "Traceback" not in proc.stderr
