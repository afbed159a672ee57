"""The real gateway config, made runnable on loopback, and a minimal WebSocket client over TLS."""

import base64
import hashlib
import os
import secrets
import socket
import ssl
import struct
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _certificate(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip


def render_nginx(tmp: Path, *, upstream_port: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx/nginx.conf with only its addresses and file locations moved under ``tmp``;
    each replaced text must still be in the shipped file (a test fails if the config drifts)."""
    text = NGINX_CONF.read_text()
    replacements = {
        "server api:8000": f"server 127.0.0.1:{upstream_port}",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "pid /run/nginx.pid;": f"pid {tmp}/nginx.pid;",
        "/var/cache/nginx/citadel": f"{tmp}/cache",
        "/etc/nginx/tls/": f"{tmp}/tls/",
        "/usr/share/nginx/html": f"{tmp}/html",
        "http {": (
            f"http {{\n    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;"
            f" fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;"
        ),
    }
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    if os.geteuid() == 0:
        text = "user root;\n" + text  # workers may then read the test's private folder
    _certificate(tmp / "tls")
    (tmp / "html" / "assets").mkdir(parents=True, exist_ok=True)
    (tmp / "html" / "assets" / "app.3f9a1c.js").write_text("console.log('storefront');\n")
    config = tmp / "nginx.conf"
    config.write_text(text)
    return config


class WebSocket:
    """Just enough of RFC 6455 to prove an upgrade through the gateway: send text, read frames."""

    def __init__(self, host: str, port: int, path: str, origin: str) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((host, port), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.accepted = self.headers.get("sec-websocket-accept") == expected

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = secrets.token_bytes(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame from the server (which never masks)."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return first & 0x0F, self._read(length)

    def close(self) -> None:
        self.sock.close()
