"""Real servers in front of the reference HR API that are slow where `requests`' timeouts do not
look: an HTTPS front whose TLS handshake trickles or stalls, and an OAuth token endpoint that
holds its answer. Each runs in threads of the test process on a port of its own."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.sandbox.hr_api import HrApi

TRICKLE_EVERY = 0.5  # seconds between two bytes: each read waits far less than its timeout
TRICKLE_FOR = 20.0  # then the rest at once, so a gateway that waits fails the test instead of hanging it


def call_api(handler: BaseHTTPRequestHandler, api: HrApi) -> requests.Response:
    """The HR API's own answer to `handler`'s call, made with the API key."""
    sent = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    kept = {"content-type", "if-match", "accept"}
    headers = {name: value for name, value in handler.headers.items() if name.lower() in kept}
    return requests.request(
        handler.command,
        f"http://127.0.0.1:{api.port}{handler.path}",
        data=sent,
        headers={**headers, "X-Api-Key": api.api_key},
        timeout=10,
    )


def forward(handler: BaseHTTPRequestHandler, api: HrApi) -> None:
    """Answer `handler`'s call with the HR API's own answer to it."""
    answer = call_api(handler, api)
    handler.send_response(answer.status_code)
    for name in ("Content-Type", "ETag", "Location", "Retry-After"):
        if name in answer.headers:
            handler.send_header(name, answer.headers[name])
    handler.send_header("Content-Length", str(len(answer.content)))
    handler.end_headers()
    handler.wfile.write(answer.content)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # the gateway hung up mid-answer: what these servers are for

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _TlsServer(_Server):
    """HTTPS with each handshake in its connection's own thread (not in the accepting one, which
    a handshake that never ends would hold)."""

    def __init__(self, *args, **kwargs) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        super().__init__(*args, **kwargs)

    def finish_request(self, request, client_address) -> None:
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:  # the handshake failed: the client hung up
            return
        with tls:
            super().finish_request(tls, client_address)


def _forwarding(api: HrApi, seen: list[str], hold_writes: threading.Event | None = None) -> type:
    """A handler that notes each call's method in `seen` and forwards the call to `api`. With
    `hold_writes`, a write's body is never read: its connection is held until that event is set
    (or TRICKLE_FOR)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.command)
            forward(self, api)

        def do_POST(self) -> None:
            if hold_writes is None:
                return self.do_GET()
            seen.append(self.command)
            hold_writes.wait(TRICKLE_FOR)
            self.close_connection = True

        do_PUT = do_PATCH = do_POST
        do_DELETE = do_GET

        def log_message(self, *args) -> None:
            pass

    return Handler


class HttpsFront:
    """The HR API over HTTPS at https://localhost:PORT/api/v1 (certificate from `pki`, make_pki),
    reached through a TCP relay that holds back the server's side of each new connection.

    `handshake`: "trickle" sends the server's bytes (its ServerHello and certificate first) one
    every TRICKLE_EVERY seconds, "stall" sends nothing, None relays at once. The first
    `pass_first` connections are relayed at once whatever `handshake` says. Every connection is
    closed after one answer (HTTP/1.0), so each call of the gateway makes a handshake; `served`
    lists the methods of the calls that got through."""

    def __init__(self, api: HrApi, pki: Path, handshake: str | None, pass_first: int = 0):
        self.handshake = handshake
        self.pass_first = pass_first
        self.served: list[str] = []
        self.stop_event = threading.Event()
        self.https = _TlsServer(("127.0.0.1", 0), _forwarding(api, self.served))
        self.https.context.load_cert_chain(pki / "server.pem", pki / "server.key")
        self.relay = socket.create_server(("127.0.0.1", 0))
        self.connections = 0

    @property
    def url(self) -> str:
        return f"https://localhost:{self.relay.getsockname()[1]}/api/v1"

    def __enter__(self) -> HttpsFront:
        self.https.start()
        _serve_each(self.relay, self._relay)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        _stop_listening(self.relay)
        self.https.stop()

    def _relay(self, client: socket.socket, number: int) -> None:
        self.connections = max(self.connections, number)  # threads may start out of order
        held = self.handshake if number > self.pass_first else None
        with client, socket.create_connection(self.https.server_address) as server:
            threading.Thread(target=_pipe, args=(client, server), daemon=True).start()
            until = time.monotonic() + (TRICKLE_FOR if held else 0)
            if held == "stall":
                self.stop_event.wait(TRICKLE_FOR)
            try:
                while data := server.recv(65536):
                    while data and held == "trickle" and time.monotonic() < until and not self.stop_event.is_set():
                        client.sendall(data[:1])
                        data = data[1:]
                        time.sleep(TRICKLE_EVERY)
                    client.sendall(data)
            except OSError:  # the gateway hung up
                pass


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)  # the gateway hung up: so does the relay, towards the server
    except OSError:
        pass


class OAuthApi:
    """The HR API behind OAuth 2.0 client credentials: POST /oauth2/token gives a bearer token,
    and every other call with a token it gave is forwarded to the API. After `hold()`, the token
    endpoint's answer trickles: its status line, then a header line every TRICKLE_EVERY seconds
    until `release()` (or TRICKLE_FOR), then the token. `asked` counts the token requests."""

    def __init__(self, api: HrApi):
        self.asked = 0
        self.released = threading.Event()
        self.released.set()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real API

            def do_POST(self) -> None:
                if self.path != "/oauth2/token":
                    return self.do_GET()
                front.asked += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"access_token": f"token-{front.asked}", "expires_in": 3600}).encode()
                until = time.monotonic() + TRICKLE_FOR
                try:
                    self.send_response(200)
                    self.flush_headers()
                    while not front.released.is_set() and time.monotonic() < until:
                        self.wfile.write(b"X-Still-Working: yes\r\n")
                        front.released.wait(TRICKLE_EVERY)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the gateway hung up
                    self.close_connection = True

            def do_GET(self) -> None:
                if not self.headers.get("Authorization", "").startswith("Bearer token-"):
                    self.send_error(401)
                    return
                forward(self, api)

            do_PUT = do_DELETE = do_PATCH = do_GET

            def log_message(self, *args) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def hold(self) -> None:
        """Token answers from now on trickle until `release` (or for TRICKLE_FOR seconds)."""
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def __enter__(self) -> OAuthApi:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        self.server.stop()


class TricklingProxy:
    """An HTTP proxy (what HTTPS_PROXY names) that tunnels each CONNECT to where it asks.

    `trickle`: the answer to CONNECT comes a line at a time, its status line and then a header
    line every TRICKLE_EVERY seconds (for TRICKLE_FOR), before the tunnel opens; each read of
    it waits far less than any timeout. The first `pass_first` tunnels open at once. `refuse`:
    the others are refused at once (407, as a proxy that wants a login answers). `tunnels`
    counts the CONNECTs asked for."""

    def __init__(self, trickle: bool, pass_first: int = 0, refuse: bool = False):
        self.trickle = trickle or refuse
        self.refuse = refuse
        self.pass_first = pass_first
        self.tunnels = 0
        self.stop_event = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def __enter__(self) -> TricklingProxy:
        _serve_each(self.listener, self._tunnel)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        _stop_listening(self.listener)

    def _tunnel(self, client: socket.socket, number: int) -> None:
        self.tunnels = max(self.tunnels, number)
        held = self.trickle and number > self.pass_first
        with client:
            asked = b""
            while b"\r\n\r\n" not in asked:
                data = client.recv(4096)
                if not data:
                    return
                asked += data
            host, _, port = asked.split(b" ")[1].decode().rpartition(":")
            try:
                if held and self.refuse:
                    client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                    return
                client.sendall(b"HTTP/1.1 200 Connection established\r\n")
                until = time.monotonic() + (TRICKLE_FOR if held else 0)
                while time.monotonic() < until and not self.stop_event.is_set():
                    client.sendall(b"X-Still-Working: yes\r\n")
                    self.stop_event.wait(TRICKLE_EVERY)
                client.sendall(b"\r\n")
                with socket.create_connection((host.strip("[]"), int(port))) as server:
                    threading.Thread(target=_pipe, args=(server, client), daemon=True).start()
                    _pipe(client, server)
            except OSError:  # the gateway hung up
                pass


def _serve_each(listener: socket.socket, serve: Callable[[socket.socket, int], None]) -> None:
    """Each connection `listener` accepts, served on a thread of its own with its number (1, 2,
    ...), until the listener stops (the test is over)."""

    def accept() -> None:
        number = 0
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # stopped: the test is over
                return
            number += 1
            threading.Thread(target=serve, args=(client, number), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def _stop_listening(listener: socket.socket) -> None:
    """Wake the accept() (close() alone leaves it blocked), then close."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()


class PlainFront:
    """The HR API at http://HOST:PORT/api/v1 behind a plain HTTP front that closes each
    connection after one answer (HTTP/1.0), so each call of the gateway makes a connection and
    looks its host name up. `deaf`: the front never reads a write's body; it takes the request's
    head and then holds the connection, reading nothing more, until the test ends (or
    TRICKLE_FOR), so a large body fills the socket buffers and the sender blocks. `heard` lists
    the methods of the calls whose head came."""

    def __init__(self, api: HrApi, host: str = "127.0.0.1", deaf: bool = False):
        self.host = host
        self.heard: list[str] = []
        self.stop_event = threading.Event()
        self.server = _Server(("127.0.0.1", 0), _forwarding(api, self.heard, self.stop_event if deaf else None))
        self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills sooner

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_port}/api/v1"

    def __enter__(self) -> PlainFront:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        self.server.stop()
