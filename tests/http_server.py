#!/usr/bin/python3
"""A local HTTP server for the download tests, which can misbehave on purpose.

    http_server.py ROOT STATS_FILE

Binds 127.0.0.1 on a free port, prints the port on a line of its own, and
serves until killed. A request for /<behaviour>/<name> answers with the file
ROOT/<name> as <behaviour> says:

    ok               the file, with its Content-Length
    status-<code>    always HTTP <code> (404, 500, ...), no file
    status-<code>-<n>  HTTP <code> to the first n requests, then the file
    truncate         the whole Content-Length, half the body, then close
    truncate-<n>     truncated for the first n requests, then the file
    slow-<ms>        the file in 1 MiB pieces, <ms> milliseconds apart
    together-<n>     holds each request until n are in flight for the same
                     path (60 s at most), then serves the file slowly (slow-20)
    stall            headers and half the body, then nothing for 10 minutes

Counts are per request path. A request in absolute form (GET http://host/...,
as a client sends it to a proxy) is served the same way and counted as
proxied. After each request starts, STATS_FILE holds JSON:

    {"requests": {path: count}, "peak_in_flight": {path: n}, "proxied": n}
"""

import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20


class State:
    def __init__(self, root, stats_file):
        self.root = root
        self.stats_file = stats_file
        self.lock = threading.Condition()
        self.requests = {}
        self.in_flight = {}
        self.peak_in_flight = {}
        self.proxied = 0

    def write_stats(self):
        temporary = self.stats_file + ".tmp"
        with open(temporary, "w") as f:
            json.dump({"requests": self.requests,
                       "peak_in_flight": self.peak_in_flight,
                       "proxied": self.proxied}, f)
        os.replace(temporary, self.stats_file)

    def begin(self, path, proxied):
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            self.in_flight[path] = self.in_flight.get(path, 0) + 1
            self.peak_in_flight[path] = max(self.peak_in_flight.get(path, 0),
                                            self.in_flight[path])
            self.proxied += 1 if proxied else 0
            self.write_stats()
            self.lock.notify_all()
            return self.requests[path]

    def end(self, path):
        with self.lock:
            self.in_flight[path] -= 1
            self.lock.notify_all()

    def wait_for_in_flight(self, path, wanted, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.in_flight.get(path, 0) < wanted:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.lock.wait(left)


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so that closing early is how a
    # truncated body ends.
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        state = self.server.state
        proxied = not self.path.startswith("/")
        path = urllib.parse.urlsplit(self.path).path if proxied else self.path
        count = state.begin(path, proxied)
        try:
            self.answer(path, count)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as clients do
        finally:
            state.end(path)

    def answer(self, path, count):
        parts = path.lstrip("/").split("/", 1)
        if len(parts) != 2:
            return self.send_error(404)
        behaviour, name = parts
        words = behaviour.split("-")
        file_name = os.path.join(self.server.state.root, name)
        if words[0] == "status":
            code = int(words[1])
            times = int(words[2]) if len(words) > 2 else None
            if times is None or count <= times:
                return self.send_error(code)
            return self.send_file(file_name)
        if not os.path.isfile(file_name):
            return self.send_error(404)
        if words[0] == "ok":
            return self.send_file(file_name)
        if words[0] == "truncate":
            times = int(words[1]) if len(words) > 1 else None
            if times is None or count <= times:
                return self.send_file(file_name, fraction=0.5)
            return self.send_file(file_name)
        if words[0] == "slow":
            return self.send_file(file_name, pause=int(words[1]) / 1000)
        if words[0] == "together":
            self.server.state.wait_for_in_flight(path, int(words[1]), 60)
            return self.send_file(file_name, pause=0.02)
        if words[0] == "stall":
            self.send_file(file_name, fraction=0.5)
            time.sleep(600)
            return None
        return self.send_error(400, "unknown behaviour " + behaviour)

    def send_file(self, file_name, fraction=1.0, pause=0.0):
        size = os.path.getsize(file_name)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        left = int(size * fraction)
        with open(file_name, "rb") as f:
            while left > 0:
                piece = f.read(min(CHUNK, left))
                if not piece:
                    break
                self.wfile.write(piece)
                left -= len(piece)
                if pause:
                    self.wfile.flush()
                    time.sleep(pause)
        self.wfile.flush()


def main():
    root, stats_file = sys.argv[1], sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(root, stats_file)
    server.state.write_stats()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
