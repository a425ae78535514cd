"""`make run`'s own script, started for real: it ends with one block (URL, admin login, where the logs go) that
stays the last thing on the terminal, the printed URL answers, the printed login logs in, each request then
gets one short line, and stopping it (a SIGTERM to its process group, as `timeout` sends) stops the server and
the whole worker, no qcluster process left behind."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

RULE = "-" * 78


class Terminal:
    """What the script prints, line by line, with the time each line arrived."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate(self.lines)
            if found is not None:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout} s; the terminal showed:\n{self.text()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` (pid -> command line), from /proc."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = commands.get(child, "")
                todo.append(child)
    return found


def _alive(pid: int, command: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        now = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and now == command


def _block(lines) -> tuple[int, list[str]] | None:
    """The index of the block's closing rule and the block's lines, once it is complete."""
    texts = [line for _, line in lines]
    rules = [i for i, line in enumerate(texts) if line == RULE]
    if len(rules) >= 2:
        return rules[1], texts[rules[0] + 1 : rules[1]]
    return None


class Run:
    """scripts/run.sh started as `make run` starts it, on a database and log folder of the test's own."""

    def __init__(self, tmp_path: Path, **environment: str):
        self.port = _free_port()
        self.log_dir = tmp_path / "log"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "ADMIN_PASSWORD", "DEBUG"}
        }
        env.update(
            {
                # The ORM broker and SQLite, as a new user's `make run` has.
                "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
                "RUN_ADDR": f"127.0.0.1:{self.port}",
                "RUN_LOG_DIR": str(self.log_dir),
                "ADMIN_USERNAME": "admin",
                "CACHE_DIR": str(tmp_path / "cache"),
                "UPLOAD_DIR": str(tmp_path / "uploads"),
                **environment,
            }
        )
        self.process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.terminal = Terminal(self.process)
        self.started: dict[int, str] = {}

    def block(self) -> tuple[int, dict[str, str], list[str]]:
        """The block's last line's index and its fields, once it is printed; every process started by then."""
        end, block = self.terminal.wait_for(_block, timeout=240, what="closing line of the block")
        self.started = _descendants(self.process.pid)
        fields = {m[1]: m[2] for line in block if (m := re.match(r"\s+(Open|Admin login|Logs)\s+(.*)", line))}
        return end, fields, block

    def stop(self, signum: int) -> dict[int, str]:
        """Send `signum` to the script's process group; the processes still running afterwards (killed then)."""
        os.killpg(self.process.pid, signum)
        try:
            self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            left = {pid: c for pid, c in self.started.items() if _alive(pid, c)}
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        return left


def _log_in(url: str, password: str) -> None:
    """Open the printed URL as a browser would (cookies, redirects), log in with the printed login, open admin."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(url, timeout=30) as page:
        assert page.status == 200 and page.url.endswith("/accounts/login/?next=/"), page.url
        login_url, text = page.url, page.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)[1]
    form = urllib.parse.urlencode({"username": "admin", "password": password, "csrfmiddlewaretoken": token})
    with browser.open(login_url, data=form.encode(), timeout=30) as answer:
        assert answer.status == 200 and answer.url == url, answer.url
    with browser.open(f"{url}admin/", timeout=30) as admin:
        assert admin.status == 200 and "Site administration" in admin.read().decode()


def test_make_run_ends_with_one_block_whose_url_and_login_work_and_stops_every_process(tmp_path):
    run = Run(tmp_path)
    try:
        end, fields, block = run.block()
        assert any("qcluster" in c for c in run.started.values()), run.started
        assert any("runserver" in c for c in run.started.values()), run.started

        # The block: where to go, the login to use, where the logs are.
        assert fields["Open"] == f"http://127.0.0.1:{run.port}/"
        login = re.match(r"admin / (\S+)\s+\(generated, shown this once", fields["Admin login"])
        assert login, fields
        for name in ("web.log", "worker.log", "setup.log"):
            assert str(run.log_dir / name) in fields["Logs"]
            assert (run.log_dir / name).exists()
        assert "Ctrl-C stops the server and the worker" in "\n".join(block)
        assert "   Debug pages  off (DEBUG=true make run turns them on)" in block
        # The password is said once, in the block.
        assert run.terminal.text().count(login[1]) == 1

        # The block stays the last thing on the terminal: the start-up chatter went to the log files.
        time.sleep(4)
        assert len(run.terminal.lines) == end + 1, run.terminal.text()
        assert "Starting development server" in (run.log_dir / "web.log").read_text()
        assert " running." in (run.log_dir / "worker.log").read_text()

        # The printed URL answers with the login page; the printed login logs in.
        _log_in(fields["Open"], login[1])

        # One short line per request (static files left out), after the block.
        run.terminal.wait_for(
            lambda lines: (
                any(re.fullmatch(r"[\d:]+  POST /accounts/login/\S*  302", t) for _, t in lines) or None
            ),
            timeout=10,
            what="request line for the login",
        )
        after = [t for _, t in run.terminal.lines[end + 1 :]]
        assert all(re.fullmatch(r"[\d:]+  (GET|POST) \S+  \d{3}", t) for t in after), after
        assert not any("/static/" in t for t in after)

        # An error in either log shows as one line naming the file with the details (lines as LOGGING writes them).
        with open(run.log_dir / "web.log", "a") as log:
            log.write(
                "2026-12-02 10:11:12,345 ERROR django.request: Internal Server Error: /boom\nTraceback ...\n"
            )
        with open(run.log_dir / "worker.log", "a") as log:
            log.write("2026-12-02 10:11:13,345 ERROR django-q: Failed [import_job_run] - no such table\n")
        shown = run.terminal.wait_for(
            lambda lines: (
                [t for _, t in lines if "10:11:1" in t]
                if len([t for _, t in lines if "10:11:1" in t]) == 2
                else None
            ),
            timeout=10,
            what="error lines",
        )
        assert sorted(shown) == [  # two files followed apart: either may come first
            f"10:11:12  server ERROR: Internal Server Error: /boom (details in {run.log_dir / 'web.log'})",
            f"10:11:13  worker ERROR: Failed [import_job_run] - no such table (details in {run.log_dir / 'worker.log'})",
        ]
    finally:
        left = run.stop(signal.SIGTERM)  # what `timeout` (and a closed terminal) sends
    assert run.process.returncode == 0, run.terminal.text()
    assert run.terminal.text().endswith("[run] Stopped."), run.terminal.text()
    assert not left, f"still running after the stop: {left}"
    assert "has stopped." in (run.log_dir / "worker.log").read_text()


def test_make_run_again_with_admin_password_and_ctrl_c(tmp_path):
    """A second start on the same database: ADMIN_PASSWORD is the login that works, the old logs are gone,
    and Ctrl-C (SIGINT to the terminal's foreground group: the script's) stops everything."""
    first = Run(tmp_path)
    try:
        first.block()
    finally:
        assert not first.stop(signal.SIGINT)
    assert "Traceback" not in (tmp_path / "log" / "web.log").read_text()
    (tmp_path / "log" / "web.log").write_text("A LINE OF THE LAST RUN\n")

    again = Run(tmp_path, ADMIN_PASSWORD="chosen-at-the-second-run")
    try:
        _, fields, _ = again.block()
        assert fields["Admin login"] == "admin / chosen-at-the-second-run  (from ADMIN_PASSWORD)"
        _log_in(fields["Open"], "chosen-at-the-second-run")
        assert "A LINE OF THE LAST RUN" not in (tmp_path / "log" / "web.log").read_text()
    finally:
        left = again.stop(signal.SIGINT)
    assert again.process.returncode == 0, again.terminal.text()
    assert again.terminal.text().endswith("[run] Stopped."), again.terminal.text()
    assert not left, f"still running after Ctrl-C: {left}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("existing", "wanted", "printed", "works"),
    [
        pytest.param(None, "", r"admin / (\S+)  \(generated, shown this once", None, id="new-generated"),
        pytest.param(
            None,
            "chosen-pw-1",
            r"admin / chosen-pw-1  \(from ADMIN_PASSWORD\)",
            "chosen-pw-1",
            id="new-chosen",
        ),
        pytest.param(
            "old-pw",
            "chosen-pw-2",
            r"admin / chosen-pw-2  \(from ADMIN_PASSWORD\)",
            "chosen-pw-2",
            id="reset",
        ),
        pytest.param(
            "old-pw", "", r"admin \(password unchanged, .*changepassword admin\)", "old-pw", id="kept"
        ),
    ],
)
def test_ensure_admin_prints_the_login_that_works(
    django_user_model, settings, existing, wanted, printed, works
):
    from io import StringIO

    from django.core.management import call_command

    if existing:
        django_user_model.objects.create_superuser(username="admin", email="", password=existing)
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "admin", wanted
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    line = out.getvalue().strip()
    match = re.match(printed, line)
    assert match, line
    user = django_user_model.objects.get(username="admin")
    assert user.is_superuser and user.check_password(works or match[1])
    if existing and wanted:
        assert not user.check_password(existing)
