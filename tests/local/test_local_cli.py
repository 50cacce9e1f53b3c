"""`dbx-native local serve`: prints where to connect, serves, stops on Ctrl-C."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout

import pytest
import requests

from dbx_native.cli import build_parser
from dbx_native.cli._local import _serve


def test_local_serve_is_registered_with_its_options() -> None:
    args = build_parser().parse_args(["local", "serve", "--port", "0", "--root", "/tmp/x", "--token", "t"])
    assert args.port == 0
    assert args.host == "127.0.0.1"
    assert args.root == "/tmp/x"
    assert args.token == "t"
    assert args.func is _serve


def test_serve_prints_host_and_token_and_answers_until_stopped() -> None:
    stop = threading.Event()
    out = io.StringIO()
    args = argparse.Namespace(port=0, host="127.0.0.1", root=None, token="cli-token")
    result: list[int] = []

    def run() -> None:
        with redirect_stdout(out):
            result.append(_serve(args, stop=stop))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while "DATABRICKS_TOKEN" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.005)
        text = out.getvalue()
        host = re.search(r"DATABRICKS_HOST=(\S+)", text)
        assert host is not None
        assert "DATABRICKS_TOKEN=cli-token" in text
        response = requests.get(f"{host.group(1)}/api/2.0/x", headers={"Authorization": "Bearer cli-token"}, timeout=5)
        assert response.status_code == 404
    finally:
        stop.set()
        thread.join(10)
    assert result == [0]


def test_serve_on_a_busy_port_fails_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    from dbx_native.local import LocalWorkspace

    with LocalWorkspace().serve() as busy:
        args = argparse.Namespace(port=busy.port, host="127.0.0.1", root=None, token=None)
        assert _serve(args, stop=threading.Event()) == 1
    assert "--port 0" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX-only here")
def test_command_line_serve_stops_cleanly_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "DBX_NATIVE_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbx_native.cli", "local", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Local Databricks workspace serving on http://127.0.0.1:")
        host = first.rsplit(" ", 1)[1].strip()
        token = re.search(r"DATABRICKS_TOKEN=(\S+)", proc.stdout.readline() + proc.stdout.readline())
        assert token is not None
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        assert requests.get(f"{host}/api/2.0/x", headers=headers, timeout=5).status_code == 404
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
