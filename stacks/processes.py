"""The background servers a stack starts on this machine (the services stack's S3, MLflow and ZenML
servers; the containers stack's podman API and registry): each a process group with a pid file
and a log under one folder, so that `up` finds what is already running and `down` stops exactly
what it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional


class ServerError(RuntimeError):
    """A server did not come up; the message carries the last lines of its log."""


class Servers:
    def __init__(self, root: Path):
        self.pids, self.logs = root / "pids", root / "logs"

    def _pid_file(self, name: str) -> Path:
        return self.pids / f"{name}.pid"

    def running_pid(self, name: str) -> Optional[int]:
        path = self._pid_file(name)
        if not path.is_file():
            return None
        pid = int(path.read_text().strip())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            return None
        return pid

    def start(self, name: str, command: List[str], healthy: Callable[[], bool], env: Dict[str, str],
              seconds: float = 120, cwd: Optional[Path] = None) -> None:
        """Start ``command`` in its own process group and wait until ``healthy``; fail at once,
        with the log's last lines, when it exits first."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self._pid_file(name).write_text(str(process.pid))
        deadline = time.monotonic() + seconds
        problem = f"did not come up within {seconds:.0f} s"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                problem = f"exited with status {process.returncode}"
                break
            if healthy():
                print(f"  + {name} started (pid {process.pid}, log {log})")
                return
            time.sleep(0.5)
        tail = "\n    ".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServerError(f"{name} ({' '.join(command[:3])} ...) {problem}\n  last lines of {log}:\n    {tail}")

    def stop(self, name: str, timeout: float = 30) -> None:
        """Stop the whole process group (workers too), by force after ``timeout``."""
        pid = self.running_pid(name)
        if pid is None:
            print(f"  = {name} not running")
            return
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
        self._pid_file(name).unlink(missing_ok=True)
        print(f"  - {name} stopped")
