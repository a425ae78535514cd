"""A local HTTPS server that plays Google's token endpoint and the Drive v3 calls the archive makes.

The real google-api-python-client talks to it: `GDRIVE_API_ENDPOINT` points the API at it (googleapiclient
then sends media uploads to the same host, keeping the https scheme: hence TLS, with a throw-away CA that
`GDRIVE_CA_CERTS` trusts), and the service-account key's `token_uri` sends the token request here too, where
the signed JWT is checked against the key's public half. It keeps what it is sent, so tests can look.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import jwt

FOLDER_MIMETYPE = "application/vnd.google-apps.folder"
ROOT_FOLDER = "root-folder-id"
_PARENT_AND_NAME = re.compile(r"'(?P<parent>[^']+)' in parents and name = '(?P<name>(?:[^'\\]|\\.)*)'")


@dataclass
class DriveFile:
    id: str
    name: str
    parents: list[str]
    mimetype: str
    content: bytes = b""


@dataclass
class Upload:
    metadata: dict
    query: dict
    total: int
    mimetype: str
    received: bytearray = field(default_factory=bytearray)
    chunks: int = 0


def _error(code: int, reason: str, message: str) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


class FakeDrive:
    """Start with `FakeDrive(folder)`, stop with `close()`. Knobs: `create_error`, `drop_chunk`, `hold_complete`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ca_path = self._certificate(folder)
        self.files: dict[str, DriveFile] = {
            ROOT_FOLDER: DriveFile(id=ROOT_FOLDER, name="Archive", parents=[], mimetype=FOLDER_MIMETYPE)
        }
        self.uploads: dict[str, Upload] = {}
        self.requests: list[tuple[str, str, dict]] = []  # method, path, query
        self.token_claims: list[dict] = []
        self.tokens: set[str] = set()
        # (status, reason, message) to answer every upload start with; None: answer normally.
        self.create_error: tuple[int, str, str] | None = None
        # The number of the chunk PUT whose connection is dropped before its body is read (once).
        self.drop_chunk: int | None = None
        # True: every connection is closed as soon as it is accepted, as when Drive is unreachable.
        self.down = False
        # When set, the request that completes an upload waits for this event before answering.
        self.hold_complete: threading.Event | None = None
        self.completed = threading.Event()
        self.lock = threading.Lock()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.drive = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "server.pem", folder / "server.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-drive", daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def api_endpoint(self) -> str:
        return f"{self.base_url}/drive/v3/"

    def service_account_info(self) -> dict:
        """A service-account key as Google Cloud hands it out, whose token_uri is this server."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "type": "service_account",
            "project_id": "importhub-test",
            "private_key_id": "test-key-1",
            "private_key": pem.decode(),
            "client_email": "archiver@importhub-test.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": f"{self.base_url}/token",
        }

    def stored_files(self) -> list[DriveFile]:
        return [f for f in self.files.values() if f.mimetype != FOLDER_MIMETYPE]

    def folders(self) -> list[DriveFile]:
        return [f for f in self.files.values() if f.mimetype == FOLDER_MIMETYPE and f.id != ROOT_FOLDER]

    def upload_starts(self) -> list[dict]:
        return [q for m, p, q in self.requests if m == "POST" and p == "/upload/drive/v3/files"]

    def close(self) -> None:
        if self.hold_complete is not None:
            self.hold_complete.set()
        self.server.shutdown()
        self.server.server_close()

    def _certificate(self, folder: Path) -> Path:
        """A self-signed certificate for 127.0.0.1, which is its own CA."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-drive.test")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "server.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (folder / "server.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return folder / "server.pem"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, format, *args):
        """Quiet: the tests look at `FakeDrive.requests` instead."""

    @property
    def drive(self) -> FakeDrive:
        return self.server.drive

    def handle(self):
        if self.drive.down:
            self.close_connection = True
            return  # the connection closes unanswered: the client sees Drive go away
        super().handle()

    # --- plumbing ---

    def _send(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _route(self) -> tuple[str, dict]:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.drive.lock:
            self.drive.requests.append((self.command, parts.path, query))
        return parts.path, query

    def _authorised(self) -> bool:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token in self.drive.tokens:
            return True
        self._body()
        self._send(401, _error(401, "authError", "Invalid Credentials"))
        return False

    # --- verbs ---

    def do_GET(self):
        path, query = self._route()
        if not self._authorised():
            return
        if path == "/drive/v3/files/generateIds":
            ids = [f"gen{uuid.uuid4().hex[:20]}" for _ in range(int(query.get("count", 10)))]
            return self._send(200, {"kind": "drive#generatedIds", "space": "drive", "ids": ids})
        if path == "/drive/v3/files":
            match = _PARENT_AND_NAME.search(query.get("q", ""))
            found = []
            if match:
                name = re.sub(r"\\(.)", r"\1", match["name"])
                found = [
                    {"id": f.id}
                    for f in self.drive.files.values()
                    if f.mimetype == FOLDER_MIMETYPE and match["parent"] in f.parents and f.name == name
                ]
            return self._send(200, {"files": found[: int(query.get("pageSize", 100))]})
        return self._send(404, _error(404, "notFound", f"No such endpoint: {path}"))

    def do_POST(self):
        path, query = self._route()
        if path == "/token":
            return self._token()
        if not self._authorised():
            return
        metadata = json.loads(self._body() or b"{}")
        if path == "/drive/v3/files":  # a folder (metadata only)
            return self._folder_create(metadata)
        if path == "/upload/drive/v3/files" and query.get("uploadType") == "resumable":
            return self._upload_start(metadata, query)
        return self._send(404, _error(404, "notFound", f"No such endpoint: {path}"))

    def do_PUT(self):
        path, query = self._route()
        if not self._authorised():
            return
        upload = self.drive.uploads.get(query.get("upload_id", ""))
        if path != "/upload/drive/v3/files" or upload is None:
            self._body()
            return self._send(404, _error(404, "notFound", "No such upload session."))
        content_range = self.headers.get("Content-Range", "")
        if content_range.startswith("bytes */"):  # "how much do you have?", after a dropped connection
            self._body()
            return self._upload_progress(upload)
        upload.chunks += 1
        if self.drive.drop_chunk == upload.chunks:
            self.drive.drop_chunk = None
            self.close_connection = True  # hang up without reading the chunk or answering
            return
        start = int(re.match(r"bytes (\d+)-", content_range)[1])
        data = self._body()
        if start != len(upload.received):
            return self._send(
                400, _error(400, "badRequest", f"Chunk starts at {start}, expected {len(upload.received)}")
            )
        upload.received += data
        self._upload_progress(upload)

    # --- Drive ---

    def _token(self):
        form = {k: v[-1] for k, v in parse_qs(self._body().decode()).items()}
        public = self.drive.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            # google-auth signs for Google's token endpoint whatever the key's token_uri says.
            claims = jwt.decode(
                form["assertion"], certs=public, audience="https://oauth2.googleapis.com/token"
            )
        except (KeyError, ValueError) as exc:
            return self._send(400, {"error": "invalid_grant", "error_description": str(exc)})
        token = f"tok-{uuid.uuid4().hex[:12]}"
        with self.drive.lock:
            self.drive.token_claims.append(claims)
            self.drive.tokens.add(token)
        return self._send(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _upload_start(self, metadata: dict, query: dict):
        if self.drive.create_error:
            status, reason, message = self.drive.create_error
            return self._send(status, _error(status, reason, message))
        if metadata.get("id") in self.drive.files:
            message = "A file already exists with the provided ID."
            return self._send(409, _error(409, "duplicate", message))
        for parent in metadata.get("parents", []):
            if parent not in self.drive.files:
                return self._send(404, _error(404, "notFound", f"File not found: {parent}."))
        upload_id = uuid.uuid4().hex
        self.drive.uploads[upload_id] = Upload(
            metadata=metadata,
            query=query,
            total=int(self.headers["X-Upload-Content-Length"]),
            mimetype=self.headers.get("X-Upload-Content-Type", "application/octet-stream"),
        )
        location = f"{self.drive.base_url}/upload/drive/v3/files?uploadType=resumable&upload_id={upload_id}"
        return self._send(200, None, {"Location": location})

    def _upload_progress(self, upload: Upload):
        if len(upload.received) < upload.total:
            headers = {"Range": f"bytes=0-{len(upload.received) - 1}"} if upload.received else {}
            return self._send(308, None, headers)
        if self.drive.hold_complete is not None and not self.drive.completed.is_set():
            self._store(upload)
            self.drive.completed.set()
            self.drive.hold_complete.wait(timeout=60)
            try:
                return self._created(upload)
            except OSError:
                return None  # the client is gone
        self._store(upload)
        return self._created(upload)

    def _store(self, upload: Upload) -> None:
        file_id = upload.metadata.get("id") or uuid.uuid4().hex
        with self.drive.lock:
            if file_id not in self.drive.files:
                self.drive.files[file_id] = DriveFile(
                    id=file_id,
                    name=upload.metadata.get("name", ""),
                    parents=upload.metadata.get("parents", []),
                    mimetype=upload.mimetype,
                    content=bytes(upload.received),
                )
        upload.metadata["id"] = file_id

    def _created(self, upload: Upload):
        file = self.drive.files[upload.metadata["id"]]
        return self._send(200, {"kind": "drive#file", "id": file.id, "name": file.name})

    def _folder_create(self, metadata: dict):
        file_id = f"fld{uuid.uuid4().hex[:16]}"
        with self.drive.lock:
            self.drive.files[file_id] = DriveFile(
                id=file_id,
                name=metadata.get("name", ""),
                parents=metadata.get("parents", []),
                mimetype=metadata.get("mimeType", "application/octet-stream"),
            )
        return self._send(200, {"kind": "drive#file", "id": file_id, "name": metadata.get("name", "")})
