#!/usr/bin/env python3
"""resnet-cli serve against real HTTP clients (Python's requests and raw
sockets), on 127.0.0.1 and a port the server picks (--port 0).

  answers  acceptance 1: /predictions/{name} and /v1/classify give classify's
           classes and probabilities (1e-6) for 20 images, raw and multipart;
           TorchServe's /predictions/{name}/{version}, describe model,
           OPTIONS / and index_to_name.json labels;
           /v1/classify?explain=1 classify --explain's maps and boxes
  abuse    acceptance 3: hostile and broken clients, each followed by a good
           request; the server's RSS after N requests within 10% of its RSS
           after N/10
  sigterm  acceptance 4: SIGTERM while 16 clients send: every request sent
           before the signal is answered 200, the server exits 0
  int8     --precision int8 (issue 23): answers give Python's quantized
           logits, byte for byte, for requests the server batches together
  limits   --max-connections, --max-client-connections and --max-queue:
           the connection or image past the limit is answered 503 with
           Retry-After, the next one after room is made (or from another
           address) 200; a request of more images than the queue holds 413

Usage: test_serve.py MODE --binary resnet-cli --fixtures DIR [--requests N]
                     [--int8-fixtures DIR]
"""
import argparse
import json
import os
import random
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

import requests

MODEL = "resnet50"


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class Server:
    """resnet-cli serve on a free port; its stderr drained on a thread."""

    def __init__(self, args, *extra, env=None, checkpoint=None):
        checkpoint = checkpoint or os.path.join(args.fixtures, "checkpoints",
                                                "resnet50_fixture.pth")
        command = [args.binary, "serve", "--weights-file", checkpoint, "--port", "0", *extra]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, **(env or {})))
        self.log = []
        deadline = time.time() + 120
        self.port = None
        while self.port is None:
            line = self.process.stderr.readline()
            if not line:
                fail("server ended before listening: " + "".join(self.log))
            self.log.append(line)
            found = re.search(r"serving \S+ at http://127\.0\.0\.1:(\d+)/", line)
            if found:
                self.port = int(found.group(1))
            check(time.time() < deadline, "server did not start")
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()
        self.url = "http://127.0.0.1:%d" % self.port

    def _drain(self):
        for line in self.process.stderr:
            self.log.append(line)

    def rss_kib(self):
        with open("/proc/%d/status" % self.process.pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=60)
            self.drainer.join(timeout=10)  # the log's last lines
            return status
        except subprocess.TimeoutExpired:
            self.process.kill()
            fail("server did not exit after SIGTERM")


def images(args, count):
    folder = os.path.join(args.fixtures, "images")
    names = sorted(n for n in os.listdir(folder))
    return [os.path.join(folder, n) for n in names][:count]


def classify_records(args, paths, *extra):
    checkpoint = os.path.join(args.fixtures, "checkpoints", "resnet50_fixture.pth")
    result = subprocess.run(
        [args.binary, "classify", "--weights-file", checkpoint, "--format", "json", *extra, *paths],
        capture_output=True, text=True, check=False)
    check(result.returncode in (0, 1), "classify failed: " + result.stderr)
    return {r["path"]: r for r in json.loads(result.stdout)}


def same_as_torchserve_dict(answer, record, where):
    expected = {}
    for prediction in record["predictions"]:  # best first; a repeated label keeps its best
        expected.setdefault(prediction["label"], prediction["score"])
    check(list(answer) == list(expected), "%s: labels %s, classify %s" % (where, list(answer), list(expected)))
    for label, score in expected.items():
        check(abs(answer[label] - score) <= 1e-6, "%s: %s %r vs %r" % (where, label, answer[label], score))


def same_predictions(got, record, where):
    check(len(got) == len(record["predictions"]), where + ": count differs")
    for mine, theirs in zip(got, record["predictions"]):
        check(mine["index"] == theirs["index"] and mine["label"] == theirs["label"],
              "%s: %r vs %r" % (where, mine, theirs))
        check(abs(mine["score"] - theirs["score"]) <= 1e-6, "%s: %r vs %r" % (where, mine, theirs))


def test_answers(args):
    paths = images(args, 20)
    records = classify_records(args, paths)
    logits = classify_records(args, paths[:3], "--output-type", "logit", "-k", "3")
    server = Server(args, "-v")
    session = requests.Session()
    predictions = server.url + "/predictions/" + MODEL
    for path in paths:
        record = records[path]
        check("predictions" in record, path + ": classify failed: %r" % record)
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.basename(path)
        raw = session.post(predictions, data=data)
        check(raw.status_code == 200, "%s raw: %d %s" % (name, raw.status_code, raw.text))
        same_as_torchserve_dict(raw.json(), record, name + " raw")
        put = session.put(predictions, data=data)  # curl -T
        same_as_torchserve_dict(put.json(), record, name + " PUT")
        for field in ("data", "file"):
            multipart = session.post(predictions, files={field: (name, data)})
            check(multipart.status_code == 200, "%s multipart: %s" % (name, multipart.text))
            same_as_torchserve_dict(multipart.json(), record, name + " multipart " + field)
        mine = session.post(server.url + "/v1/classify", data=data).json()
        check(mine["path"] == "-", name + ": raw body's path")
        same_predictions(mine["predictions"], record, name + " /v1/classify raw")
        mine = session.post(server.url + "/v1/classify", files={"data": (name, data)}).json()
        check(mine["path"] == name, name + ": the upload's file name")
        same_predictions(mine["predictions"], record, name + " /v1/classify multipart")
    # Several files answer a list, in order; ?topk=; output_type=logit.
    files = [("data", (os.path.basename(p), open(p, "rb").read())) for p in paths[:3]]
    listed = session.post(predictions + "?topk=2", files=files).json()
    check(isinstance(listed, list) and len(listed) == 3, "several files: %r" % listed)
    for answer, path in zip(listed, paths[:3]):
        check(len(answer) <= 2, "topk=2: %r" % answer)
        check(list(answer)[0] == records[path]["predictions"][0]["label"], "list order")
    listed = session.post(server.url + "/v1/classify?topk=3&output_type=logit", files=files).json()
    for mine, path in zip(listed, paths[:3]):
        check(mine["path"] == os.path.basename(path), "list paths")
        same_predictions(mine["predictions"], logits[path], path + " logit")
    # ?explain=1: classify --explain's grid, box and crop.
    for path, record in classify_records(args, paths[:3], "--explain").items():
        with open(path, "rb") as f:
            mine = session.post(server.url + "/v1/classify?explain=1", data=f.read()).json()
        got, want = mine["explain"], record["explain"]
        check(got["crop"] == want["crop"] and got["maps"][0]["box"] == want["maps"][0]["box"],
              path + " explain box: %r vs %r" % (got, want))
        difference = max(abs(a - b) for ga, gb in zip(got["maps"][0]["grid"], want["maps"][0]["grid"])
                         for a, b in zip(ga, gb))
        check(difference <= 1e-6, path + " explain grid differs by %g" % difference)
    for query in ("explain=2", "explain=1&output_type=embedding"):
        bad = session.post(server.url + "/v1/classify?" + query, data=b"x")
        check(bad.status_code == 400 and bad.json()["type"] == "usage", query + ": %s" % bad.text)
    check(session.get(server.url + "/ping").json() == {"status": "Healthy"}, "/ping")
    check(session.get(server.url + "/models").json()["models"][0]["modelName"] == MODEL, "/models")
    check(session.post(server.url + "/predictions/nope", data=b"x").status_code == 404, "unknown model")
    check(session.get(predictions).status_code == 405, "GET predictions")
    check(session.get(server.url + "/nowhere").json()["type"] == "not_found", "unknown path")
    torchserve_api(server, session, paths[0], records[paths[0]])
    # -v's access log: a line per request, the bytes it read whether the
    # body came with a Content-Length, chunked, or not at all.
    data = open(paths[0], "rb").read()
    chunked = session.post(predictions, data=iter([data[:1000], data[1000:]]))
    check(chunked.status_code == 200, "chunked body: %d" % chunked.status_code)
    check(server.stop() == 0, "exit status")
    log = "".join(server.log)
    for request, size in (('"GET /ping" 200 ', 0), ('"POST /predictions/%s" 200 ' % MODEL, len(data))):
        check(re.search(re.escape(request) + "%d B in, [0-9]+ B out, [0-9.]+ ms" % size, log),
              "access log has no %s%d B in line:\n%s" % (request, size, log))
    check(not re.search(r" \d{3}  B in", log), "access log line without a size:\n" + log)
    torchserve_labels(args, paths[0], records[paths[0]])
    print("answers: %d images, raw and multipart, same as classify" % len(paths))


def torchserve_api(server, session, path, record):
    """TorchServe's inference API beyond predictions: versions, describe
    model, OPTIONS / (its OpenAPI description), HEAD."""
    with open(path, "rb") as f:
        data = f.read()
    versioned = session.post(server.url + "/predictions/%s/1.0" % MODEL, data=data)
    check(versioned.status_code == 200, "/predictions/{name}/1.0: %s" % versioned.text)
    same_as_torchserve_dict(versioned.json(), record, "/predictions/{name}/1.0")
    other = session.post(server.url + "/predictions/%s/2.0" % MODEL, data=data)
    check(other.status_code == 404 and "1.0" in other.json()["message"], "version 2.0: %s" % other.text)
    for target in ("/models/" + MODEL, "/models/%s/1.0" % MODEL, "/models/%s/all" % MODEL):
        described = session.get(server.url + target).json()
        check(isinstance(described, list) and described[0]["modelName"] == MODEL
              and described[0]["modelVersion"] == "1.0" and described[0]["workers"][0]["status"] == "READY",
              "%s: %r" % (target, described))
    check(session.get(server.url + "/models/nope").status_code == 404, "describe an unknown model")
    description = session.options(server.url + "/").json()
    check(description["openapi"] == "3.0.1"
          and "post" in description["paths"]["/predictions/{model_name}/{model_version}"]
          and "get" in description["paths"]["/models/{model_name}"], "OPTIONS /: %r" % list(description))
    head = session.head(server.url + "/ping")
    check(head.status_code == 200 and head.content == b""
          and head.headers["Content-Length"] == str(len('{"status": "Healthy"}')), "HEAD /ping: %r" % head.headers)


def torchserve_labels(args, path, record):
    """--labels reads TorchServe's index_to_name.json ([wnid, name] values):
    the names it gives are the answers' labels."""
    folder = os.path.join(os.environ.get("TMPDIR", "/tmp"), "resnet-cli-serve-%d" % os.getpid())
    os.makedirs(folder, exist_ok=True)
    mapping = os.path.join(folder, "index_to_name.json")
    with open(mapping, "w") as f:
        json.dump({str(i): ["n%08d" % i, "class %d" % i] for i in range(1000)}, f)
    server = Server(args, "--labels", mapping)
    with open(path, "rb") as f:
        answer = requests.post(server.url + "/predictions/" + MODEL, data=f.read(), timeout=60).json()
    expected = ["class %d" % p["index"] for p in record["predictions"]]
    check(list(answer) == expected, "index_to_name.json labels: %r, expected %r" % (list(answer), expected))
    check(server.stop() == 0, "exit status")
    os.remove(mapping)
    os.rmdir(folder)


def good_request(session, server, data, headers, what):
    response = session.post(server.url + "/predictions/" + MODEL, data=data, headers=headers, timeout=60)
    check(response.status_code == 200, "good request after %s: %d %s" % (what, response.status_code, response.text))


def png_claiming(width, height):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def raw_request(server, head, body=b""):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(head.encode() + body)
    return sock


def abuse_inputs(server, session, key, good):
    url = server.url + "/predictions/" + MODEL
    expectations = [
        ("an empty body", b"", 400, "empty_file"),
        ("a 60 MiB body", os.urandom(1 << 20) * 60, 413, "too_large"),
        ("a PNG claiming 100000x100000", png_claiming(100000, 100000), 413, "too_large"),
        ("a truncated JPEG", good[: len(good) // 2], 400, "decode"),
    ]
    for what, data, status, kind in expectations:
        response = session.post(url, data=data, headers=key, timeout=120)
        check(response.status_code == status, "%s: %d %s" % (what, response.status_code, response.text))
        check(response.json()["type"] == kind, "%s: %s" % (what, response.text))
        good_request(session, server, good, key, what)
    generator = random.Random(15)
    for _ in range(1000):
        data = bytes(generator.getrandbits(8) for _ in range(generator.randrange(1, 2048)))
        response = session.post(url, data=data, headers=key, timeout=60)
        check(response.status_code == 400, "random bytes: %d" % response.status_code)
    good_request(session, server, good, key, "1,000 bodies of random bytes")


def abuse_connections(server, session, key, good, args):
    auth = "Authorization: %s\r\n" % key["Authorization"]
    # A client that stops mid-body.
    sock = raw_request(server, "POST /predictions/%s HTTP/1.1\r\nHost: x\r\n%sContent-Length: 100000\r\n\r\n"
                       % (MODEL, auth), good[:1000])
    sock.close()
    good_request(session, server, good, key, "a client stopping mid-body")
    # One that sends a byte a second: dropped at --request-timeout (3 s).
    sock = raw_request(server, "")
    started = time.time()
    message = "POST /predictions/%s HTTP/1.1\r\nHost: x\r\n" % MODEL
    dropped = False
    for byte in message.encode() * 10:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            dropped = True
            break
        sock.settimeout(1.0)
        try:
            if sock.recv(4096) == b"":
                dropped = True
                break
        except socket.timeout:
            pass
        except OSError:
            dropped = True
            break
        if time.time() - started > 15:
            break
    sock.close()
    check(dropped and time.time() - started < 10, "a byte a second was not dropped in time")
    good_request(session, server, good, key, "a byte a second")
    # Idle connections: they hold no thread; a good request goes through
    # while they are open, and they are closed at --idle-timeout.
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(args.idle)]
    good_request(session, server, good, key, "%d idle connections" % args.idle)
    time.sleep(4)
    for sock in idle:
        sock.settimeout(5)
        try:
            check(sock.recv(1) == b"", "an idle connection was not closed")
        except ConnectionResetError:
            pass
        sock.close()
    good_request(session, server, good, key, "idle connections closed")
    # Authentication: the scheme in any case (RFC 9110); a refused request
    # with a body closes its connection, and says so without Keep-Alive.
    lower = {"Authorization": key["Authorization"].replace("Bearer", "bearer")}
    good_request(session, server, good, lower, "lower-case bearer")
    sock = raw_request(server, "POST /predictions/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                       % (MODEL, len(good)), good)
    status, headers, _ = read_response(sock)
    check(status == 401 and headers.get("connection") == "close" and "keep-alive" not in headers,
          "401 with a body: %d %r" % (status, headers))
    sock.close()
    check(session.post(server.url + "/predictions/" + MODEL, data=good, headers={"Authorization": "Bearer wrong"}).status_code == 401, "bad key")
    check(session.post(server.url + "/predictions/" + MODEL, data=good).status_code == 401, "no key")
    check(session.get(server.url + "/metrics").status_code == 401, "metrics without key")
    check(session.get(server.url + "/ping").status_code == 200, "/ping needs no key")
    good_request(session, server, good, key, "a bad API key")

def read_response(sock):
    """(status, headers, body) of one HTTP/1.1 response with Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        check(chunk, "connection closed before a response: %r" % data)
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        check(chunk, "connection closed inside a body")
        body += chunk
    return int(lines[0].split()[1]), headers, body


def ping(server):
    """A connection the server accepted and keeps open, and its /ping status."""
    sock = raw_request(server, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = read_response(sock)
    return sock, status, headers, body


def limit_connections(server):
    held = []
    for _ in range(2):
        sock, status, _, _ = ping(server)
        check(status == 200, "/ping on a connection within --max-connections")
        held.append(sock)
    sock, status, headers, body = ping(server)
    check(status == 503 and headers.get("retry-after") == "1"
          and headers.get("connection") == "close"
          and json.loads(body)["type"] == "busy",
          "the connection past --max-connections: %d %r %r" % (status, headers, body))
    check(sock.recv(1) == b"", "the refused connection stays open")
    sock.close()
    # Room made: a new connection is served once the server sees the close.
    held.pop().close()
    deadline = time.time() + 20
    while True:
        sock, status, _, _ = ping(server)
        sock.close()
        if status == 200:
            break
        check(time.time() < deadline, "no connection served after one closed")
        time.sleep(0.2)
    for sock in held:
        sock.close()
    print("limits: the connection past --max-connections 503, served again once one closed")


def limit_client_connections(server):
    """--max-client-connections 2: a third connection from 127.0.0.1 is 503,
    one from 127.0.0.2 is served."""
    def ping_from(source):
        sock = socket.socket()
        sock.settimeout(30)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock)
        return sock, status, body

    held = []
    for _ in range(2):
        sock, status, _ = ping_from("127.0.0.1")
        check(status == 200, "/ping within --max-client-connections")
        held.append(sock)
    sock, status, body = ping_from("127.0.0.1")
    check(status == 503 and b"--max-client-connections" in body,
          "a third connection from 127.0.0.1: %d %r" % (status, body))
    sock.close()
    sock, status, _ = ping_from("127.0.0.2")
    check(status == 200, "a connection from 127.0.0.2 beside two from 127.0.0.1: %d" % status)
    sock.close()
    for sock in held:
        sock.close()
    print("limits: a third connection from one address 503, another address served")


def limit_queue(server, image):
    url = server.url + "/v1/classify"
    files = lambda n: [("data", ("%d.jpg" % i, image)) for i in range(n)]
    # More images than the queue holds could never be admitted: 413.
    response = requests.post(url, files=files(3), timeout=60)
    check(response.status_code == 413 and response.json()["type"] == "too_large"
          and "--max-queue" in response.json()["message"],
          "3 images with --max-queue 2: %d %s" % (response.status_code, response.text))
    # Two images fill the queue; they wait --max-batch-delay (6 s) for a
    # batch of 4, so an image sent meanwhile finds no room: 503, Retry-After.
    first = {}

    def fill():
        first["response"] = requests.post(url, files=files(2), timeout=60)

    filler = threading.Thread(target=fill)
    started = time.time()
    filler.start()
    time.sleep(2)
    response = requests.post(url, data=image, timeout=60)
    waited = time.time() - started
    check(waited < 6, "the queue-full probe came too late (%.1f s) to test anything" % waited)
    check(response.status_code == 503 and response.headers.get("Retry-After") == "1"
          and response.json()["type"] == "busy",
          "an image past --max-queue: %d %s" % (response.status_code, response.text))
    filler.join()
    check(first["response"].status_code == 200 and len(first["response"].json()) == 2,
          "the two queued images: %s" % first["response"].text)
    check(requests.post(url, data=image, timeout=60).status_code == 200,
          "an image once the queue emptied")
    print("limits: a request past --max-queue 413, an image past a full queue 503, then 200")


def test_limits(args):
    # A server each: connections the first one has not seen closed yet would
    # count against the queue test's.
    server = Server(args, "--max-connections", "2")
    limit_connections(server)
    check(server.stop() == 0, "exit status")
    server = Server(args, "--max-client-connections", "2")
    limit_client_connections(server)
    check(server.stop() == 0, "exit status")
    server = Server(args, "--max-queue", "2", "--max-batch-delay", "6000", "-b", "4")
    with open(os.path.join(args.fixtures, "images", "small_100x80.jpg"), "rb") as f:
        limit_queue(server, f.read())
    check(server.stop() == 0, "exit status")


def test_abuse(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    check(hard > args.idle + 100, "descriptor limit %d too low for %d idle connections" % (hard, args.idle))
    server = Server(args, "--request-timeout", "3", "--idle-timeout", "2",
                    "--max-connections", str(args.idle + 64),
                    "--max-client-connections", str(args.idle + 64),
                    env={"RESNET_CLI_API_KEY": "s3cret"})
    key = {"Authorization": "Bearer s3cret"}
    with open(os.path.join(args.fixtures, "images", "photo_500x375.jpg"), "rb") as f:
        good = f.read()
    session = requests.Session()
    started = time.time()
    abuse_inputs(server, session, key, good)
    print("hostile bodies: %.1f s" % (time.time() - started), flush=True)
    started = time.time()
    abuse_connections(server, session, key, good, args)
    print("hostile connections: %.1f s" % (time.time() - started), flush=True)
    started = time.time()
    # Memory: the server's RSS after N requests within 10% of after N/10.
    with open(os.path.join(args.fixtures, "images", "small_100x80.jpg"), "rb") as f:
        small = f.read()
    # One request in ten runs the model; the others take the error paths,
    # /v1/classify's and /metrics'.
    bodies = [small] + [b"", b"not an image", small[: len(small) // 2]] * 3
    count = [0]
    lock = threading.Lock()
    rss = {}

    def client(seed):
        own = requests.Session()
        generator = random.Random(seed)
        while True:
            with lock:
                if count[0] >= args.requests:
                    return
                count[0] += 1
                if count[0] in (args.requests // 10, args.requests):
                    rss[count[0]] = None
            body = bodies[generator.randrange(len(bodies))] if generator.random() < 0.9 else None
            if body is None:
                own.get(server.url + "/metrics", headers=key, timeout=60)
            else:
                own.post(server.url + "/v1/classify", data=body, headers=key, timeout=60)

    def sample():
        while len(rss) < 2 or None in rss.values():
            for mark, value in list(rss.items()):
                if value is None:
                    time.sleep(0.5)  # those in flight at the mark finish
                    rss[mark] = server.rss_kib()
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    sampler.join()
    early, late = rss[args.requests // 10], rss[args.requests]
    print("RSS after %d requests: %d KiB; after %d: %d KiB (%+.1f%%)"
          % (args.requests // 10, early, args.requests, late, 100.0 * (late - early) / early))
    print("%d requests: %.1f s" % (args.requests, time.time() - started))
    check(late <= early * 1.10, "RSS grew more than 10%")
    metrics = session.get(server.url + "/metrics", headers=key).text
    check('resnet_cli_requests_total{code="401"}' in metrics, "/metrics counts 401s")
    check(server.stop() == 0, "exit status")
    print("abuse: every hostile client refused, every good request after it answered")


def test_sigterm(args):
    server = Server(args)
    with open(os.path.join(args.fixtures, "images", "small_100x80.jpg"), "rb") as f:
        data = f.read()
    outcomes = []
    lock = threading.Lock()
    signalled = [None]

    def client():
        session = requests.Session()
        while True:
            started = time.time()
            try:
                response = session.post(server.url + "/predictions/" + MODEL, data=data, timeout=60)
                outcome = response.status_code
            except requests.ConnectionError as error:
                outcome = "connection: %s" % error.__class__.__name__
            with lock:
                outcomes.append((started, outcome))
            if not isinstance(outcome, int) or (signalled[0] and started > signalled[0] + 1):
                return

    clients = [threading.Thread(target=client) for _ in range(16)]
    for thread in clients:
        thread.start()
    time.sleep(4)
    signalled[0] = time.time()
    status = server.stop()
    for thread in clients:
        thread.join()
    check(status == 0, "exit status %r after SIGTERM" % status)
    # Sent well before the signal (their connection accepted): answered.
    before = [o for t, o in outcomes if t < signalled[0] - 0.5]
    check(before and all(o == 200 for o in before), "unanswered before the signal: %r"
          % [o for o in before if o != 200])
    answered = sum(1 for _, o in outcomes if o == 200)
    check(all(o == 200 or not isinstance(o, int) for _, o in outcomes), "an error status")
    print("sigterm: %d requests answered, %d sent before the signal; exit 0" % (answered, len(before)))


def batch_counts(server):
    """(forward passes, passes of more than one image) from /metrics."""
    text = requests.get(server.url + "/metrics", timeout=30).text
    values = dict(re.findall(r'^resnet_cli_batch_size_(bucket\{le="1"\}|count) (\S+)$', text, re.M))
    passes = int(float(values.get("count", 0)))
    return passes, passes - int(float(values.get('bucket{le="1"}', 0)))


def test_load(args):
    """16 concurrent clients for args.seconds: no request fails, and the
    server gathers them into batches (throughput and latency against
    classify are scripts/bench-serve's, not a test's)."""
    server = Server(args, "--batch-size", "4")
    paths = images(args, 20)
    bodies = []
    for path in paths:
        with open(path, "rb") as f:
            bodies.append(f.read())
    counts = {"ok": 0, "failed": []}
    lock = threading.Lock()
    end = time.time() + args.seconds

    def client(offset):
        session = requests.Session()
        i = offset
        while time.time() < end:
            try:
                response = session.post(server.url + "/predictions/" + MODEL,
                                        data=bodies[i % len(bodies)], timeout=120)
                outcome = response.status_code
            except requests.RequestException as error:
                outcome = error.__class__.__name__
            with lock:
                if outcome == 200:
                    counts["ok"] += 1
                else:
                    counts["failed"].append(outcome)
            i += 1

    clients = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    passes, batched = batch_counts(server)
    status = server.stop()
    check(not counts["failed"], "failed requests: %r" % counts["failed"][:10])
    check(counts["ok"] > 0, "no request answered")
    check(batched > 0, "no forward pass of more than one image in %d" % passes)
    check(status == 0, "exit status %r after SIGTERM" % status)
    print("load: 16 clients, %d s: %d requests answered, none failed; %d of %d forward "
          "passes had more than one image" % (args.seconds, counts["ok"], batched, passes))


def test_int8(args):
    """--precision int8 serves the quantized network: each answer's logits are
    Python's, as PyTorch's own quantized ResNet50 computes them
    (make_int8_fixture.py), whatever the server batches together."""
    import numpy as np
    check(args.int8_fixtures is not None, "int8 needs --int8-fixtures")
    with open(os.path.join(args.int8_fixtures, "resnet50_int8.json")) as f:
        info = json.load(f)
    expected = np.load(os.path.join(args.int8_fixtures, info["logits"]))
    server = Server(args, "--precision", "int8", "--max-batch-delay", "50",
                    checkpoint=os.path.join(args.int8_fixtures, info["checkpoint"]))
    paths = [os.path.join(args.fixtures, image) for image in info["images"]][:12]
    answers = [None] * len(paths)

    def ask(i):
        with open(paths[i], "rb") as f:
            answers[i] = requests.post(
                server.url + "/v1/classify?topk=1000&output_type=logit", data=f.read())

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, answer in enumerate(answers):
        check(answer.status_code == 200, "%s: %d %s" % (paths[i], answer.status_code, answer.text))
        logits = np.zeros(expected.shape[1], np.float32)
        for prediction in answer.json()["predictions"]:
            logits[prediction["index"]] = prediction["score"]
        check(np.array_equal(logits, expected[i]),
              "%s: logits differ from Python's by up to %g" % (
                  paths[i], float(np.abs(logits - expected[i]).max())))
    check(server.stop() == 0, "server exit status")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["answers", "abuse", "sigterm", "load", "limits", "int8"])
    parser.add_argument("--int8-fixtures")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    started = time.time()
    {"answers": test_answers, "abuse": test_abuse, "sigterm": test_sigterm,
     "load": test_load, "limits": test_limits, "int8": test_int8}[args.mode](args)
    print("%s: %.1f s" % (args.mode, time.time() - started))


if __name__ == "__main__":
    main()
