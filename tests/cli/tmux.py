"""A real terminal for CLI tests: a private tmux server (its own socket), one window of a given size."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

HAVE_TMUX = shutil.which("tmux") is not None


class Terminal:
    def __init__(self, name: str, width: int, height: int = 300) -> None:
        self.tmux = ["tmux", "-L", f"llmctl-test-{os.getpid()}-{name}", "-f", "/dev/null"]
        self.width, self.height = width, height

    def start(self, cwd: Path, argv: list[str], done: Path) -> None:
        """Run `argv` in `cwd` (the environment passed on, COLUMNS unset); `done` appears when it exits."""
        keep = ("GIT_", "HOME", "PATH", "LLMCTL", "LANG", "LC_")
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in os.environ.items() if k.startswith(keep))
        line = " ".join(shlex.quote(a) for a in argv)
        command = (
            f"cd {shlex.quote(str(cwd))} && env -u COLUMNS {env} {line}; touch {shlex.quote(str(done))}; sleep 120"
        )
        size = ["-x", str(self.width), "-y", str(self.height)]
        subprocess.run([*self.tmux, "new-session", "-d", *size, command], check=True, timeout=20)

    def screen(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-J", "-S", f"-{self.height}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        ).stdout

    def wait_for(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            assert time.monotonic() < deadline, f"{text!r} never appeared:\n{screen}"
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", *keys], check=True, timeout=20)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False, timeout=20)
