#!/usr/bin/env python3
"""resnet-cli serve against hostile clients on 127.0.0.1 (issue 22,
acceptance 1 and 2), each case bounded in time:

  slow       300 connections sending a byte a second; /ping and a prediction
             from another client (127.0.0.2) answered within 1 s each
  bodies     an endless chunked body, a chunked body over --max-body and a
             2 GB Content-Length: 413 and closed within 1 s, the server's
             RSS growing by at most --max-body; Expect: 100-continue
             answered only once the key and the length pass
  framing    CL+TE, duplicate, negative and 20-digit lengths, a POST with no
             length, garbage, ...: one answer each (400, or 411, 417, 431,
             501, 505 where RFC 9112 says more), Connection: close, no
             Keep-Alive, and nothing read after it
  decodes    four 48-megapixel PNGs at once decode one at a time within
             --decode-memory; an image that alone needs more is 413
  port       a second server on a port the first holds: exit 2, one line
  startup    SIGTERM at any moment of start-up ends the server
  drain      SIGTERM with keep-alive clients: a request in flight and one
             sent just before the signal answered with Connection: close,
             an idle connection closed, exit 0
  memory     (acceptance 2) the server's peak RSS over all of the above at
             most its peak after ordinary traffic plus the bound README
             documents: --body-memory + --decode-memory + 64 KiB per
             --max-connections + a model input per --max-queue image

Usage: test_hostile.py --binary resnet-cli --fixtures DIR [CASE...]
"""
import argparse
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_serve import MODEL, Server, check, fail, read_response  # noqa: E402

KEY = "s3cret"
MAX_BODY = 8 << 20
BODY_MEMORY = 32 << 20
DECODE_MEMORY = 320 << 20
MAX_CONNECTIONS = 1024
MAX_QUEUE = 16
CROP = 224
# What a request holds besides its body's bytes (the connection's 32 KiB
# read buffer, its request head, page rounding), and what the kernel's RSS
# counters may lag: per CPU, up to max(32, 2 x CPUs) pages not yet added.
CPUS = os.cpu_count() or 1
BODY_SLACK = (256 << 10) + CPUS * max(32, 2 * CPUS) * 4096


def sanitized(binary):
    """Whether the binary carries AddressSanitizer's runtime (the sanitizer
    suite's build): its shadow memory and quarantine of freed blocks are not
    the server's, so RSS bounds are not checked there."""
    with open(binary, "rb") as f:
        return b"AddressSanitizer" in f.read()


MEMORY_CHECKED = True


def documented_bound():
    """README's "Memory": beyond the idle server's peak."""
    return (BODY_MEMORY + DECODE_MEMORY + MAX_CONNECTIONS * (64 << 10)
            + MAX_QUEUE * 3 * CROP * CROP * 4)


class Memory:
    """The server's RSS and peak RSS (VmHWM), the peak reset between cases
    (/proc/PID/clear_refs) and the highest peak kept."""

    def __init__(self, pid):
        self.pid = pid
        self.highest = 0

    def _status(self, key):
        with open("/proc/%d/status" % self.pid) as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) << 10
        fail("no %s for the server" % key)

    def rss(self):
        return self._status("VmRSS")

    def peak(self):
        value = self._status("VmHWM")
        self.highest = max(self.highest, value)
        return value

    def reset(self):
        self.peak()
        with open("/proc/%d/clear_refs" % self.pid, "w") as f:
            f.write("5")
        return self.rss()


def connect(port, source="127.0.0.1", timeout=10):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def auth(key=KEY, scheme="Bearer"):
    return "Authorization: %s %s\r\n" % (scheme, key)


def read_until_closed(sock, limit):
    """Everything the server sends until it closes (or `limit` seconds):
    (bytes, closed, seconds)."""
    started = time.time()
    data = b""
    sock.settimeout(0.05)
    while time.time() - started < limit:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True, time.time() - started
        if not chunk:
            return data, True, time.time() - started
        data += chunk
    return data, False, time.time() - started


def split_responses(data):
    """(status, headers) of each complete response in `data`."""
    responses = []
    while b"\r\n\r\n" in data:
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        length = int(headers.get("content-length", 0))
        responses.append((int(lines[0].split()[1]), headers))
        data = rest[length:]
    return responses


def png(width, height):
    """A black RGB PNG of that size: its rows of zeros compress to little."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + 3 * width)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def predict_request(body, extra=""):
    return ("POST /predictions/%s HTTP/1.1\r\nHost: x\r\n%s%sContent-Length: %d\r\n\r\n"
            % (MODEL, auth(), extra, len(body))).encode() + body


def timed_exchange(port, request, source):
    """One request on a fresh connection from `source`: (status, seconds)."""
    started = time.time()
    sock = connect(port, source, timeout=1.0)
    try:
        sock.sendall(request)
        status, _, _ = read_response(sock)
    except socket.timeout:
        fail("no answer within 1 s from %s" % source)
    finally:
        sock.close()
    return status, time.time() - started


def test_slow_clients(server, image):
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    message = ("POST /predictions/%s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 100\r\n\r\n"
               % (MODEL, auth())).encode()
    slow = [connect(server.port) for _ in range(300)]
    for sock in slow:
        sock.setblocking(False)
    stop = threading.Event()
    sent = [0]

    def trickle():
        while not stop.is_set():
            for sock in slow:
                try:
                    sock.send(message[sent[0] % len(message):][:1])
                except (BlockingIOError, OSError):
                    pass
            sent[0] += 1
            stop.wait(1.0)

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        time.sleep(2)
        worst = 0.0
        for _ in range(3):
            status, seconds = timed_exchange(server.port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2")
            check(status == 200 and seconds < 1.0, "/ping beside 300 slow clients: %d in %.2f s" % (status, seconds))
            worst = max(worst, seconds)
            status, seconds = timed_exchange(server.port, predict_request(image), "127.0.0.2")
            check(status == 200 and seconds < 1.0, "a prediction beside 300 slow clients: %d in %.2f s" % (status, seconds))
            worst = max(worst, seconds)
            time.sleep(1)
        metrics = subprocess_free_get(server.port, "/metrics")
        held = int(re.search(rb"^resnet_cli_open_connections (\d+)", metrics, re.M).group(1))
        check(held >= 300, "the slow connections were not all held open: %d" % held)
    finally:
        stop.set()
        thread.join()
        for sock in slow:
            sock.close()
    print("slow: 300 connections at a byte a second, %d bytes each; /ping and a prediction "
          "from 127.0.0.2 answered in %.2f s at worst" % (sent[0], worst), flush=True)


def subprocess_free_get(port, path):
    sock = connect(port, "127.0.0.2")
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, auth())).encode())
    status, _, body = read_response(sock)
    sock.close()
    check(status == 200, "GET %s: %d" % (path, status))
    return body


def settle(server):
    """Until the server holds no connection but the one asking, so that what
    closing ones free does not hide what the next case takes."""
    deadline = time.time() + 10
    while True:
        metrics = subprocess_free_get(server.port, "/metrics")
        held = int(re.search(rb"^resnet_cli_open_connections (\d+)", metrics, re.M).group(1))
        if held <= 1:
            return
        check(time.time() < deadline, "%d connections still open" % held)
        time.sleep(0.1)


def refused_in_time(server, memory, what, head, body_source=None, expect=413):
    """Sends `head` (and, on a thread, what `body_source` yields until the
    server closes); the answer must be `expect`, Connection: close, and the
    connection closed within 1 s, the RSS grown by at most --max-body."""
    settle(server)
    before = memory.reset()
    sock = connect(server.port)
    started = time.time()
    sock.sendall(head)
    feeding = threading.Event()

    def feed():
        try:
            for piece in body_source():
                if feeding.is_set():
                    return
                sock.sendall(piece)
        except OSError:
            pass

    feeder = threading.Thread(target=feed) if body_source else None
    if feeder:
        feeder.start()
    data, closed, _ = read_until_closed(sock, 5)
    seconds = time.time() - started
    feeding.set()
    if feeder:
        feeder.join()
    sock.close()
    responses = split_responses(data)
    check(len(responses) == 1 and responses[0][0] == expect,
          "%s: %r" % (what, data[:300]))
    headers = responses[0][1]
    check(headers.get("connection") == "close" and "keep-alive" not in headers,
          "%s: %r" % (what, headers))
    check(closed and seconds < 1.0, "%s: closed %s after %.2f s" % (what, closed, seconds))
    grown = memory.peak() - before
    check(grown <= MAX_BODY + BODY_SLACK or not MEMORY_CHECKED,
          "%s: RSS grew %d bytes, --max-body is %d" % (what, grown, MAX_BODY))
    return seconds, grown


def test_bodies(server, memory, image):
    target = "POST /predictions/%s HTTP/1.1\r\nHost: x\r\n%s" % (MODEL, auth())
    chunked = (target + "Transfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"\xff" * 65536

    def endless():
        while True:
            yield b"10000\r\n" + piece + b"\r\n"

    def over_limit():
        for _ in range(MAX_BODY // len(piece) + 16):
            yield b"10000\r\n" + piece + b"\r\n"
        yield b"0\r\n\r\n"

    cases = [
        ("an endless chunked body", chunked, endless),
        ("a chunked body over --max-body", chunked, over_limit),
        ("a 2 GB Content-Length", (target + "Content-Length: 2147483648\r\n\r\n").encode(), endless),
        ("a 2 GB Content-Length, Expect: 100-continue",
         (target + "Content-Length: 2147483648\r\nExpect: 100-continue\r\n\r\n").encode(), None),
    ]
    for what, head, source in cases:
        seconds, grown = refused_in_time(server, memory, what, head, source)
        print("bodies: %s: 413 and closed in %.3f s, RSS +%d KiB" % (what, seconds, grown >> 10), flush=True)
    # 100 Continue only once the key and the length pass.
    head = ("POST /predictions/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            "Expect: 100-continue\r\n\r\n" % (MODEL, len(image))).encode()
    refused_in_time(server, memory, "Expect: 100-continue without the key", head, expect=401)
    sock = connect(server.port)
    sock.sendall(("POST /predictions/%s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n"
                  "Expect: 100-continue\r\n\r\n" % (MODEL, auth("s3cret", "bearer"), len(image))).encode())
    interim = sock.recv(4096)
    check(interim == b"HTTP/1.1 100 Continue\r\n\r\n", "100 Continue: %r" % interim)
    sock.sendall(image)
    status, headers, _ = read_response(sock)
    check(status == 200 and "connection" not in headers, "after 100 Continue: %d %r" % (status, headers))
    sock.close()
    print("bodies: 100 Continue only after the key (lower-case bearer) and the length", flush=True)


FRAMING = [
    ("Content-Length and Transfer-Encoding",
     b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("two Content-Lengths", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    ("the same Content-Length twice", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
    ("Content-Length: -1", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    ("a 20-digit Content-Length", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000000000000\r\n\r\n", 400),
    ("a 21-digit Content-Length", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000000000\r\n\r\n", 400),
    ("a POST with no length", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\n\r\n", 411),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400),
    ("a header line without a colon", b"GET /ping HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400),
    ("space before the colon", b"GET /ping HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("no Host on HTTP/1.1", b"GET /ping HTTP/1.1\r\n\r\n", 400),
    ("two Hosts", b"GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("a bare LF", b"GET /ping HTTP/1.1\nHost: x\n\n", 400),
    ("a target of bytes above 0x7f", b"GET /models/\x86\xce HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("a bad chunk size", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ("gzip, chunked", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("chunked, gzip", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("Expect other than 100-continue", b"GET /ping HTTP/1.1\r\nHost: x\r\nExpect: gzip\r\n\r\n", 417),
    ("HTTP/1.2", b"GET /ping HTTP/1.2\r\nHost: x\r\n\r\n", 505),
    ("HTTP/2.0", b"GET /ping HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("HTTP/1.x, no digit", b"GET /ping HTTP/1.x\r\nHost: x\r\n\r\n", 400),
    ("headers over 16 KiB", b"GET /ping HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
]


def test_framing(server):
    ping = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    for what, request, status in FRAMING:
        sock = connect(server.port)
        # With the key, and a request behind it that must never be read.
        request = request.replace(b"\r\nHost: x\r\n", b"\r\nHost: x\r\n" + auth().encode(), 1)
        try:
            sock.sendall(request + ping)
        except OSError:
            pass
        data, closed, seconds = read_until_closed(sock, 5)
        sock.close()
        responses = split_responses(data)
        check(len(responses) == 1, "%s: %d answers: %r" % (what, len(responses), data[:400]))
        got, headers = responses[0]
        check(got == status, "%s: %d, expected %d: %r" % (what, got, status, data[:400]))
        check(headers.get("connection") == "close" and "keep-alive" not in headers,
              "%s: %r" % (what, headers))
        check(closed and seconds < 1.0, "%s: not closed at once (%.2f s)" % (what, seconds))
    # Sound requests keep their connection, and answer no Keep-Alive header.
    sock = connect(server.port)
    sock.sendall(ping + ping)
    data = b""
    while len(split_responses(data)) < 2:
        chunk = sock.recv(65536)
        check(chunk, "pipelined pings: closed after %r" % data)
        data += chunk
    for status, headers in split_responses(data):
        check(status == 200 and "connection" not in headers and "keep-alive" not in headers,
              "a pipelined /ping: %d %r" % (status, headers))
    sock.close()
    print("framing: %d malformed requests, one answer and a close each; pipelined pings both answered"
          % len(FRAMING), flush=True)


def test_decodes(server, memory):
    image = png(8000, 6000)
    settle(server)
    before = memory.reset()
    results = []

    def send():
        sock = connect(server.port, timeout=120)
        sock.sendall(predict_request(image))
        results.append(read_response(sock)[0])
        sock.close()

    started = time.time()
    clients = [threading.Thread(target=send) for _ in range(4)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    grown = memory.peak() - before
    check(results == [200] * 4, "four 48-megapixel PNGs: %r" % results)
    check(grown <= DECODE_MEMORY + 4 * len(image) + BODY_SLACK or not MEMORY_CHECKED,
          "four 48-megapixel PNGs: RSS grew %d bytes, --decode-memory is %d" % (grown, DECODE_MEMORY))
    print("decodes: four 48-megapixel PNGs (%d KB each, --decode-threads 4) in %.1f s, RSS +%d MiB "
          "(--decode-memory %d MiB)" % (len(image) >> 10, time.time() - started, grown >> 20, DECODE_MEMORY >> 20),
          flush=True)
    sock = connect(server.port, timeout=60)
    sock.sendall(predict_request(png(10000, 10000)))
    status, _, body = read_response(sock)
    sock.close()
    check(status == 413 and b"--decode-memory" in body, "a 100-megapixel PNG: %d %r" % (status, body))
    print("decodes: a 100-megapixel PNG alone over --decode-memory: 413", flush=True)


def test_port(args, server):
    checkpoint = os.path.join(args.fixtures, "checkpoints", "resnet50_fixture.pth")
    result = subprocess.run([args.binary, "serve", "--weights-file", checkpoint, "--port", str(server.port)],
                            capture_output=True, text=True, timeout=120)
    lines = result.stderr.splitlines()
    check(result.returncode == 2 and len(lines) == 1 and "in use" in lines[0],
          "a second server on port %d: exit %d, %r" % (server.port, result.returncode, result.stderr))
    print("port: a second server on a held port: exit 2, %r" % lines[0], flush=True)


def test_startup(args):
    checkpoint = os.path.join(args.fixtures, "checkpoints", "resnet50_fixture.pth")
    outcomes = []
    for delay in (0.0, 0.01, 0.05, 0.2, 0.5, 1.0, "listening"):
        process = subprocess.Popen([args.binary, "serve", "--weights-file", checkpoint, "--port", "0"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        listening = False
        if delay == "listening":
            while "serving" not in (process.stderr.readline() or "serving"):
                pass
            listening = True
        else:
            time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            fail("SIGTERM %s after start: the server ran on" % delay)
        rest = process.stderr.read()
        listening = listening or "serving" in rest
        # Killed by the signal before it set up its handling, or stopped by it.
        check(code in (0, -signal.SIGTERM) and (code == 0 or not listening),
              "SIGTERM %s after start: exit %d: %s" % (delay, code, rest))
        outcomes.append("%s: %d" % (delay, code))
    print("startup: SIGTERM at every moment ends the server (%s)" % ", ".join(outcomes), flush=True)


def test_drain(args, image):
    server = Server(args, "--max-batch-delay", "3000", "-b", "8")
    idle = connect(server.port)
    idle.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    check(read_response(idle)[0] == 200, "the idle connection's ping")
    early = connect(server.port)
    early.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    check(read_response(early)[0] == 200, "the early connection's ping")
    held = connect(server.port, timeout=30)
    body = image
    held.sendall(("POST /predictions/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % (MODEL, len(body))).encode() + body)
    time.sleep(0.5)  # held in the batcher, waiting for a batch of 8
    early.sendall(("POST /predictions/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (MODEL, len(body))).encode() + body)
    time.sleep(0.2)
    server.process.send_signal(signal.SIGTERM)
    for what, sock in (("a request in flight", held), ("a request sent before the signal", early)):
        sock.settimeout(30)
        status, headers, _ = read_response(sock)
        check(status == 200 and headers.get("connection") == "close" and "keep-alive" not in headers,
              "%s after SIGTERM: %d %r" % (what, status, headers))
        data, closed, _ = read_until_closed(sock, 10)
        check(closed and not data, "%s: the connection stayed open" % what)
    data, closed, _ = read_until_closed(idle, 10)
    check(closed and not data, "the idle keep-alive connection: %r, closed %s" % (data, closed))
    code = server.process.wait(timeout=60)
    check(code == 0, "exit %d after SIGTERM" % code)
    print("drain: the request in flight and the one sent before SIGTERM answered 200 with "
          "Connection: close, the idle connection closed, exit 0", flush=True)


def warm_up(server, image):
    """Ordinary traffic: concurrent predictions, so that the peak includes
    the model's forward passes at full batch."""
    def client():
        for _ in range(4):
            sock = connect(server.port, timeout=120)
            sock.sendall(predict_request(image))
            check(read_response(sock)[0] == 200, "warm-up prediction")
            sock.close()

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()


def server_options():
    return ["--max-body", str(MAX_BODY), "--body-memory", str(BODY_MEMORY),
            "--decode-memory", str(DECODE_MEMORY), "--decode-threads", "4",
            "--max-connections", str(MAX_CONNECTIONS), "--max-client-connections", "400",
            "--max-queue", str(MAX_QUEUE), "--header-timeout", "60"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("cases", nargs="*", help="only these (default: all, and the memory bound)")
    args = parser.parse_args()
    global MEMORY_CHECKED
    MEMORY_CHECKED = not sanitized(args.binary)
    wanted = set(args.cases) or {"slow", "bodies", "framing", "decodes", "port", "startup", "drain"}
    started = time.time()
    with open(os.path.join(args.fixtures, "images", "small_100x80.jpg"), "rb") as f:
        image = f.read()
    if "bodies" in wanted:
        # First on a fresh server, whose heap holds no freed block a body
        # could reuse: there the RSS a body adds shows.
        fresh = Server(args, *server_options(), env={"RESNET_CLI_API_KEY": KEY})
        test_bodies(fresh, Memory(fresh.process.pid), image)
        check(fresh.stop() == 0, "exit status")
    server = Server(args, *server_options(), env={"RESNET_CLI_API_KEY": KEY})
    memory = Memory(server.process.pid)
    warm_up(server, image)
    baseline = memory.peak()
    print("memory: peak after ordinary traffic %d MiB; bound %d MiB beyond it"
          % (baseline >> 20, documented_bound() >> 20), flush=True)
    cases = [("slow", lambda: test_slow_clients(server, image)),
             ("bodies", lambda: test_bodies(server, memory, image)),
             ("framing", lambda: test_framing(server)),
             ("decodes", lambda: test_decodes(server, memory)),
             ("port", lambda: test_port(args, server))]
    for name, case in cases:
        if name in wanted:
            case()
    memory.peak()
    check(server.stop() == 0, "exit status")
    if not MEMORY_CHECKED:
        print("memory: RSS bounds not checked: the binary is built with AddressSanitizer, "
              "whose shadow memory and quarantine are not the server's", flush=True)
    elif not args.cases:
        highest = memory.highest
        check(highest <= baseline + documented_bound(),
              "peak RSS %d MiB over its bound %d + %d MiB" % (highest >> 20, baseline >> 20, documented_bound() >> 20))
        print("memory: peak RSS over the suite %d MiB, within %d + %d MiB" %
              (highest >> 20, baseline >> 20, documented_bound() >> 20), flush=True)
    if "startup" in wanted:
        test_startup(args)
    if "drain" in wanted:
        test_drain(args, image)
    print("hostile: %.1f s" % (time.time() - started))


if __name__ == "__main__":
    main()
