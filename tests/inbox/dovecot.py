"""A real IMAP server for the mailbox tests: Debian's dovecot, started by the test with a throw-away
configuration, certificate and mail store, listening on loopback only, stopped at the end.

The server directory is a short one under /tmp (dovecot's UNIX sockets live in base_dir and a socket path may
hold at most 107 bytes; pytest's tmp_path is often longer), readable by dovecot's own users when the test runs
as root (its auth and login processes drop to `dovecot` and `dovenull`).
"""

from __future__ import annotations

import getpass
import imaplib
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.processes import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MISSING = (
    "dovecot is not installed, and the mailbox tests need a real IMAP server: run "
    "`apt-get install -y dovecot-imapd` (scripts/setup.sh test, which `make test` runs, installs it)."
)
USER = "importhub"
PASSWORD = "mail-pass-é1"  # not ASCII, so the URL's percent-decoding is tested

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = 1
auth_failure_delay = 0
auth_mechanisms = plain login
disable_plaintext_auth = yes
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
mail_location = maildir:{root}/mail/%u
{namespace}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


# The mailbox's folders at the top level, as most servers keep them.
NAMESPACE_PLAIN = """namespace inbox {
  inbox = yes
  separator = /
}"""
# Every folder under INBOX. (Courier and Cyrus style): a folder is made as INBOX.Processed, not Processed.
NAMESPACE_INBOX_PREFIX = """namespace inbox {
  inbox = yes
  separator = .
  prefix = INBOX.
}"""


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    imaps_port: int
    process: subprocess.Popen
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    @property
    def ca_file(self) -> str:
        return str(self.root / "cert.pem")

    def url(self, *, scheme: str = "imaps", folder: str = "INBOX", password: str | None = None) -> str:
        from urllib.parse import quote

        port = self.imaps_port if scheme == "imaps" else self.imap_port
        secret = quote(self.password if password is None else password, safe="")
        return f"{scheme}://{self.user}:{secret}@{self.host}:{port}/{folder}"

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> imaplib.IMAP4_SSL:
        """A logged-in IMAP client of the test's own (to put messages in and look at the folders)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        imap = imaplib.IMAP4_SSL(self.host, self.imaps_port, ssl_context=context, timeout=10)
        # AUTHENTICATE PLAIN carries UTF-8; imaplib's LOGIN sends ASCII only.
        imap.authenticate("PLAIN", lambda _: f"\0{self.user}\0{self.password}".encode())
        return imap

    def append(self, message: bytes, *, folder: str = "INBOX") -> None:
        imap = self.client()
        try:
            typ, data = imap.append(folder, "", None, message)
            assert typ == "OK", data
        finally:
            imap.logout()

    def folder(self, name: str) -> list[bytes]:
        """The raw messages in a folder (none when the folder does not exist), read without marking them."""
        imap = self.client()
        try:
            typ, _ = imap.select(f'"{name}"', readonly=True)
            if typ != "OK":
                return []
            _, data = imap.uid("SEARCH", None, "ALL")
            messages = []
            for uid in data[0].split():
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                messages.append(parts[0][1])
            return messages
        finally:
            imap.logout()

    def folders(self) -> set[str]:
        imap = self.client()
        try:
            _, data = imap.list()
            return {line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in data if line}
        finally:
            imap.logout()


def _self_signed_certificate(root: Path) -> None:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


def _ready(server: Dovecot) -> bool:
    try:
        server.client().logout()
        return True
    except (OSError, imaplib.IMAP4.error):
        return False


def dovecot_start(*, extra_config: str = "", namespace: str = NAMESPACE_PLAIN) -> Dovecot:
    """Start a dovecot of the test's own (`extra_config` appended to its configuration, its folders in
    `namespace`); fails the test, saying what to install, when there is none."""
    if not os.path.exists(DOVECOT):
        pytest.fail(MISSING, pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))
    root.chmod(0o755)
    (root / "mail").mkdir()
    _self_signed_certificate(root)
    if os.getuid() == 0:
        # dovecot runs no mail process as root: the mail store belongs to its own `dovecot` user.
        internal_user, login_user = "dovecot", "dovenull"
        owner = pwd.getpwnam(internal_user)
        uid, gid = owner.pw_uid, owner.pw_gid
        os.chown(root / "mail", uid, gid)
    else:
        internal_user = login_user = getpass.getuser()
        uid, gid = os.getuid(), os.getgid()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root}/mail::\n")
    imap_port, imaps_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            internal_user=internal_user,
            login_user=login_user,
            imap_port=imap_port,
            imaps_port=imaps_port,
            namespace=namespace,
        )
        + extra_config
    )
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)],
        stdout=(root / "dovecot.out").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Dovecot(root=root, imap_port=imap_port, imaps_port=imaps_port, process=process)
    deadline = time.monotonic() + 20
    try:
        while not _ready(server):
            if process.poll() is not None or time.monotonic() > deadline:
                out = (root / "dovecot.out").read_text(errors="replace") + server.log()
                pytest.fail(f"dovecot did not start:\n{out}", pytrace=False)
            time.sleep(0.1)
    except BaseException:
        dovecot_stop(server)  # never a server left running after a failed start
        raise
    return server


def dovecot_stop(server: Dovecot) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def dovecot():
    server = dovecot_start()
    yield server
    dovecot_stop(server)
