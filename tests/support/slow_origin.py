#!/usr/bin/env python3
"""slow_origin.py -- an attachment origin for tests (test_attachments_fetch.sh).

    slow_origin.py PORT FILES STATE

Serves GET /attachments/<h0h1>/<hash>[.type] from FILES/<h0h1>/<hash>[.type], as a
publisher's read server would, and records every request in STATE/access.log (one
"GET <path>" line each, written before the answer) so that a test counts the origin
fetches. Two controls, as files in STATE, make its behaviour deterministic without
timing:
  STATE/stall/<hash>   while it exists, a GET of <hash> sends its head and the first
                       half of the body, then waits (polling) until it is removed.
  STATE/tamper/<hash>  served instead of FILES/<h0h1>/<hash> (other bytes: a
                       compromised or corrupt origin).
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, FILES, STATE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.makedirs(os.path.join(STATE, "stall"), exist_ok=True)
os.makedirs(os.path.join(STATE, "tamper"), exist_ok=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        with open(os.path.join(STATE, "access.log"), "a") as log:
            log.write("GET %s\n" % self.path)
        parts = self.path.split("/")
        if len(parts) != 4 or parts[1] != "attachments" or not parts[3] or ".." in self.path:
            return self.answer(404, b"")
        name = parts[3]
        hash_ = name[:-5] if name.endswith(".type") else name
        path = os.path.join(STATE, "tamper", name)
        if not os.path.exists(path):
            path = os.path.join(FILES, parts[2], name)
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError:
            return self.answer(404, b"")
        stall = os.path.join(STATE, "stall", hash_)
        if name == hash_ and os.path.exists(stall):
            half = len(body) // 2
            self.answer(200, body[:half], len(body))
            self.wfile.flush()
            while os.path.exists(stall):
                time.sleep(0.05)
            self.wfile.write(body[half:])
            return
        self.answer(200, body)

    def answer(self, status, body, length=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
