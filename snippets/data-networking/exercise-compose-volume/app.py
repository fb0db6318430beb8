"""A tiny web app: counts its visits in a file and says so."""

import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

COUNTER = Path("/data/visits")


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        COUNTER.parent.mkdir(parents=True, exist_ok=True)
        visits = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
        COUNTER.write_text(str(visits))
        body = f"Hello from the app container. Visits: {visits}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        # One short line per request, without the client address (it changes from run to run).
        print(f"{self.command} {self.path} -> visit", COUNTER.read_text(), flush=True)


# As PID 1 in its container the app gets no default signal handling: without this line
# `docker stop` would wait its 10 seconds and then kill it.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("app listening on port 8000", flush=True)
HTTPServer(("", 8000), Hello).serve_forever()
