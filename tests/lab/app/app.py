#!/usr/bin/env python3
"""Demo web app that the bluegreen lab deploys onto its BLUE and GREEN hosts.

The same git checkout runs on both hosts. What differs per host (colour,
listen address, port) lives outside the repository, in /srv/app-env/app.env,
so that a deployment only ever changes code and never the host's identity.

GET /health -> 200 {"status":"ok","version":...,"commit":...,"color":...}, plus
               "server": APP_SERVER (the host's name: blue, blue2, ...) when app.env sets it
               503 {"status":"unhealthy",...} while /srv/app-env/unhealthy exists;
               while /srv/app-env/flapping exists, healthy and unhealthy
               alternate per client address (HAProxy's checks and a probing
               tool each see their own alternation)
GET /       -> one text line naming the colour and version
GET /stream?seconds=N (1 <= N <= 30, default 10)
            -> 200, a body that takes N seconds to arrive: "chunk K/N from <colour>"
               lines (the first at once, then one a second), then "done <colour>".
               Its Content-Length is sent up front, so a cut stream is seen as short.
               Each request has its own thread: /health keeps answering meanwhile.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

APP_DIR = os.path.dirname(os.path.abspath(__file__))
ENV_DIR = os.environ.get("APP_ENV_DIR", "/srv/app-env")


def read_text(path, default):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return default


def load_settings(path):
    """KEY=VALUE lines from the host's env file; APP_* process variables win."""
    values = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    values[key.strip()] = value.strip().strip("'\"")
    except OSError:
        pass
    values.update({k: v for k, v in os.environ.items() if k.startswith("APP_")})
    return values


def git_head():
    try:
        done = subprocess.run(["git", "-C", APP_DIR, "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=True)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


SETTINGS = load_settings(os.path.join(ENV_DIR, "app.env"))
COLOR = SETTINGS.get("APP_COLOR", "unknown")
# Which server of the colour's pool this is (blue, blue2, ...); unset: no "server" in /health.
SERVER = SETTINGS.get("APP_SERVER", "")
BIND = SETTINGS.get("APP_BIND", "127.0.0.1")
PORT = int(SETTINGS.get("APP_PORT", "8080"))
# Read once at start-up on purpose: /health must report the code that is
# *running*, so a checkout that was updated but never restarted is visible.
VERSION = read_text(os.path.join(APP_DIR, "VERSION"), "unknown")
COMMIT = git_head()
UNHEALTHY_FLAG = os.path.join(ENV_DIR, "unhealthy")
FLAPPING_FLAG = os.path.join(ENV_DIR, "flapping")
FLAPS = {}  # client address -> answers given while flapping
FLAPS_LOCK = threading.Lock()


def healthy_now(client):
    if os.path.exists(UNHEALTHY_FLAG):
        return False
    if not os.path.exists(FLAPPING_FLAG):
        return True
    with FLAPS_LOCK:
        FLAPS[client] = FLAPS.get(client, 0) + 1
        return FLAPS[client] % 2 == 1


class Handler(BaseHTTPRequestHandler):
    server_version = "bluegreen-lab-app/1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            healthy = healthy_now(self.client_address[0])
            body = {"status": "ok" if healthy else "unhealthy",
                    "version": VERSION, "commit": COMMIT, "color": COLOR}
            if SERVER:
                body["server"] = SERVER
            self.reply(200 if healthy else 503, json.dumps(body) + "\n", "application/json")
        elif path == "/stream":
            self.stream()
        elif path == "/":
            self.reply(200, f"Hello from {COLOR}, version {VERSION} (commit {COMMIT[:12]})\n",
                       "text/plain; charset=utf-8")
        else:
            self.reply(404, "not found\n", "text/plain; charset=utf-8")

    def stream(self):
        query = parse_qs(self.path.split("?", 1)[1] if "?" in self.path else "")
        try:
            seconds = int(query.get("seconds", ["10"])[-1])
        except ValueError:
            seconds = 0
        if not 1 <= seconds <= 30:
            self.reply(400, "seconds must be an integer from 1 to 30\n", "text/plain; charset=utf-8")
            return
        lines = [f"chunk {k}/{seconds} from {COLOR}\n".encode("utf-8") for k in range(1, seconds + 1)]
        lines.append(f"done {COLOR}\n".encode("utf-8"))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(sum(len(line) for line in lines)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-App-Color", COLOR)
        self.send_header("X-App-Version", VERSION)
        self.end_headers()
        # wfile is unbuffered (wbufsize 0): each line leaves when written. A client that hangs up
        # ends the stream (BrokenPipe/ConnectionReset, which handle_error ignores).
        for k, line in enumerate(lines):
            if k:
                time.sleep(1)
            self.wfile.write(line)

    def reply(self, code, text, content_type):
        data = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-App-Color", COLOR)
        self.send_header("X-App-Version", VERSION)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        # HAProxy probes /health twice a second; logging those would drown the log.
        if not self.path.startswith("/health"):
            super().log_message(fmt, *args)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5. A reload brings a new HAProxy worker that opens
    # its server connections in a burst; with 5, the kernel drops the SYNs beyond it and HAProxy's
    # connect waits for a retransmission (1 s, then 3 s), which a client sees as a stall.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Health checkers and reloading proxies hang up early; that is not an app error.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    # `lab commit VERSION --broken` commits this marker so tests can exercise a
    # deployment whose restart step fails.
    if os.path.exists(os.path.join(APP_DIR, "BROKEN")):
        print(f"app {VERSION} ({COMMIT}): refusing to start, this commit is marked BROKEN",
              file=sys.stderr)
        return 1
    delay = float(SETTINGS.get("APP_STARTUP_DELAY", "0") or 0)
    if delay > 0:  # lets tests exercise slow starts and health-gate deadlines
        time.sleep(delay)

    server = Server((BIND, PORT), Handler)

    def stop(signum, _frame):
        # shutdown() blocks until serve_forever returns, so it cannot run in
        # the signal handler's own (main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"app {COLOR} {VERSION} ({COMMIT}) pid {os.getpid()} listening on "
          f"http://{BIND}:{PORT}/", file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    print(f"app {COLOR} {VERSION}: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
