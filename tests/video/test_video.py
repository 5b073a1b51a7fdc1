#!/usr/bin/python3
"""resnet-cli classify on videos against the oracle (video_oracle.py: Python's
cv2.VideoCapture, PIL and torchvision at test time). The clips are made here
with Debian's ffmpeg from the fixture's test images: 320x240, 10 frames a
second, 3 seconds, a different image each second.

  parity   acceptance 1: H.264/MP4, MJPEG/AVI, VP9/WebM and a variable frame
           rate MP4 (and a longer one read in chunks from seeks);
           --every 1s, 10f, keyframe and 0.5s with --start/--end
           take the frames the Python loop takes (index and time), and each
           frame's logits are within 1e-4 of torchvision's (relative to the
           largest); text, CSV, TSV and JSON carry the same frames
  stream   acceptance 2: the clip over HTTP (tests/http_server.py on
           127.0.0.1) gives the file's records; a stream that stops sending
           and one refused end with an error record, in bounded time
  bad      acceptance 3: a truncated MP4, a truncated MP4 without its index,
           a zero-byte .mp4, a text file named .avi, frames above
           --max-pixels: each an error record naming it, the run goes on to
           the photo after them, exit code 1, no hang
  summary  --video-summary: the mean of the frames' probabilities, its top-k
           and where each leads, against the same from torchvision's logits
  resume   a run killed inside a video: --resume drops that video's frame
           records and reads it again, so that each frame is recorded once
  report   acceptance 5: resnet-cli report's film strips in headless
           Chromium (as tests/test_report.cpp renders pages): a section per
           video with a frame per frame record, its top label and time, a
           timeline segment per run of one leading class, the error of a
           truncated video, placeholders for a video moved away, and a
           screenshot that is not blank

Usage: test_video.py MODE --binary resnet-cli --fixtures DIR --server SCRIPT
"""
import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from torchvision.models import ResNet50_Weights

import video_oracle as oracle

CHECKPOINT = "checkpoints/resnet50_fixture.pth"
TOLERANCE = 1e-4


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_clips(folder, images):
    """The four clips of acceptance 1 and the source for the others."""
    inputs = []
    for name in ("photo_640x480.png", "photo_500x375.jpg", "large_1600x1200.jpg"):
        inputs += ["-loop", "1", "-t", "1", "-i", os.path.join(images, name)]
    graph = ("[0]scale=320:240,setsar=1[a];[1]scale=320:240,setsar=1[b];"
             "[2]scale=320:240,setsar=1[c];[a][b][c]concat=n=3,fps=10,format=yuv420p")
    clips = {}
    clips["h264"] = os.path.join(folder, "h264.mp4")
    ffmpeg(*inputs, "-filter_complex", graph, "-c:v", "libx264",
           "-movflags", "+faststart", clips["h264"])
    clips["mjpeg"] = os.path.join(folder, "mjpeg.avi")
    ffmpeg("-i", clips["h264"], "-c:v", "mjpeg", "-q:v", "3", clips["mjpeg"])
    clips["vp9"] = os.path.join(folder, "vp9.webm")
    ffmpeg("-i", clips["h264"], "-c:v", "libvpx-vp9", "-b:v", "200k",
           "-deadline", "realtime", "-cpu-used", "8", clips["vp9"])
    # Frames 15 on half a second later, 22 on another 0.8 s later.
    clips["vfr"] = os.path.join(folder, "vfr.mp4")
    ffmpeg("-i", clips["h264"], "-vf",
           "setpts='N/10/TB+if(gte(N,15),0.5/TB,0)+if(gte(N,22),0.8/TB,0)'",
           "-vsync", "vfr", "-c:v", "libx264", "-movflags", "+faststart",
           clips["vfr"])
    # 30 s with a keyframe every second and a 0.3 s gap every 5 s: read in
    # chunks, each from its own seek, which OpenCV places by the average
    # frame rate (off here, so that some land early and some late).
    clips["long"] = os.path.join(folder, "long.mp4")
    ffmpeg("-stream_loop", "9", "-i", clips["h264"], "-vf",
           "setpts='N/10/TB+0.3*floor(N/50)/TB'", "-vsync", "vfr", "-c:v", "libx264",
           "-g", "10", "-movflags", "+faststart", clips["long"])
    return clips


class Oracle:
    """torchvision's model and transforms, the fixture's checkpoint."""

    def __init__(self, fixtures):
        torch.set_num_threads(2)
        self.model = torchvision.models.resnet50()
        self.model.load_state_dict(torch.load(os.path.join(fixtures, CHECKPOINT)))
        self.model.eval()
        self.transforms = ResNet50_Weights.IMAGENET1K_V2.transforms()
        self.cache = {}

    def frames(self, path, every, start=None, end=None):
        """[(index, time, logits)] of the frames the loop takes."""
        table = oracle.frame_table(path)
        taken = list(oracle.sampled_frames(path, oracle.Sampler(every, start, end), table))
        missing = [(i, rgb) for i, _, rgb in taken if (path, i) not in self.cache]
        if missing:
            rows = oracle.logits_of(self.model, self.transforms, [rgb for _, rgb in missing])
            for (i, _), row in zip(missing, rows):
                self.cache[(path, i)] = row
        return [(i, t, self.cache[(path, i)]) for i, t, _ in taken]


def run_cli(args, binary, fixtures, *extra, timeout=300, check_rc=None):
    command = [binary, "classify", "--weights-file", os.path.join(fixtures, CHECKPOINT),
               "--progress", "never", *extra, *args]
    started = time.time()
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check_rc is not None and run.returncode != check_rc:
        fail("%s: exit %d, expected %d\n%s" % (" ".join(command), run.returncode,
                                              check_rc, run.stderr))
    return run, time.time() - started


def records(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def logits_vector(record):
    vector = np.zeros(1000)
    for p in record["predictions"]:
        vector[p["index"]] = p["score"]
    return vector


def compare_frames(name, got, expected):
    """got: frame records (logits, all 1000); expected: Oracle.frames."""
    check([(r["frame"], r["time"]) for r in got] == [(i, t) for i, t, _ in expected],
          "%s: frames %s, the Python loop takes %s" % (
              name, [(r["frame"], r["time"]) for r in got], [(i, t) for i, t, _ in expected]))
    worst = 0.0
    for record, (_, _, logits) in zip(got, expected):
        difference = np.abs(logits_vector(record) - logits).max() / np.abs(logits).max()
        worst = max(worst, difference)
    check(worst <= TOLERANCE, "%s: logits differ by %.2e (relative)" % (name, worst))
    return worst


def test_parity(args, folder):
    clips = make_clips(folder, os.path.join(args.fixtures, "images"))
    truth = Oracle(args.fixtures)
    specs = [(["--every", "1s"], ("1s",), clips), (["--every", "10f"], ("10f",), clips),
             (["--every", "keyframe"], ("keyframe",), clips),
             (["--every", "0.5s", "--start", "0.35", "--end", "2.25"], ("0.5s", 0.35, 2.25),
              clips),
             (["--every", "0.7s", "--start", "12.05", "--end", "25"], ("0.7s", 12.05, 25.0),
              {"long": clips["long"]})]
    for cli_spec, oracle_spec, inputs in specs:
        run, _ = run_cli(list(inputs.values()), args.binary, args.fixtures, *cli_spec,
                         "--format", "jsonl", "--output-type", "logit", "--topk", "1000",
                         check_rc=0)
        lines = records(run.stdout)
        for name, path in inputs.items():
            got = [r for r in lines if r["path"] == path and r.get("kind") == "frame"]
            closing = [r for r in lines if r["path"] == path and r.get("kind") == "video"]
            check(len(closing) == 1 and closing[0]["frames"] == len(got),
                  "%s %s: one closing record counting the frames" % (name, cli_spec))
            expected = truth.frames(path, *oracle_spec)
            check(expected, "%s %s: the oracle takes no frame" % (name, cli_spec))
            worst = compare_frames("%s %s" % (name, " ".join(cli_spec)), got, expected)
            print("ok %-5s %-34s %2d frames, logits within %.1e" % (
                name, " ".join(cli_spec), len(got), worst))
    check_formats(args, clips, truth)


def check_formats(args, clips, truth):
    """Text, CSV, TSV and JSON carry each frame's index and time."""
    path = clips["vfr"]
    expected = [(i, t) for i, t, _ in truth.frames(path, "1s")]
    for fmt in ("csv", "tsv"):
        run, _ = run_cli([path], args.binary, args.fixtures, "--format", fmt, check_rc=0)
        rows = list(csv.DictReader(io.StringIO(run.stdout),
                                   delimiter="," if fmt == "csv" else "\t"))
        frames = [(int(r["frame"]), float(r["time"])) for r in rows if r["kind"] == "frame"]
        check(frames == expected, "%s frames %s, expected %s" % (fmt, frames, expected))
        check([r["kind"] for r in rows][-1] == "video", fmt + ": the video's row last")
    run, _ = run_cli([path], args.binary, args.fixtures, "--format", "json", check_rc=0)
    frames = [(r["frame"], r["time"]) for r in json.loads(run.stdout) if "frame" in r]
    check(frames == expected, "json frames %s" % frames)
    run, _ = run_cli([path], args.binary, args.fixtures, check_rc=0)
    for index, seconds in expected:
        check("%s @ %.3f s (frame %d)" % (path, seconds, index) in run.stdout,
              "text: frame %d at %.3f s missing:\n%s" % (index, seconds, run.stdout))
    check("mean of the frames' probabilities" in run.stdout, "text: no summary")
    print("ok text, csv, tsv and json carry the frames", expected)


class HttpServer:
    """tests/http_server.py serving `root` on 127.0.0.1."""

    def __init__(self, script, root):
        self.process = subprocess.Popen(
            [sys.executable, script, root, os.path.join(root, "stats.json")],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def url(self, behaviour, name):
        return "http://127.0.0.1:%d/%s/%s" % (self.port, behaviour, name)

    def close(self):
        self.process.kill()
        self.process.wait()


def without_path(record):
    return {k: v for k, v in record.items() if k not in ("path", "error")}


def test_stream(args, folder):
    clips = make_clips(folder, os.path.join(args.fixtures, "images"))
    server = HttpServer(args.server, folder)
    try:
        name = os.path.basename(clips["h264"])
        ok, stalled = server.url("ok", name), server.url("stall", name)
        refused = "http://127.0.0.1:1/%s" % name
        run, seconds = run_cli([clips["h264"], ok, stalled, refused], args.binary,
                               args.fixtures, "--format", "jsonl", "--request-timeout", "3",
                               "--video-summary", check_rc=1, timeout=120)
        lines = records(run.stdout)
        from_file = [r for r in lines if r["path"] == clips["h264"]]
        from_url = [r for r in lines if r["path"] == ok]
        check(len(from_file) == 4 and [without_path(r) for r in from_url] ==
              [without_path(r) for r in from_file],
              "the stream's records differ from the file's:\n%s\n%s" % (from_url, from_file))
        print("ok the clip over HTTP gives the file's %d records" % len(from_file))
        stall = [r for r in lines if r["path"] == stalled]
        check(stall and "error" in stall[-1] and stall[-1]["error"]["kind"] == "io" and
              "stopped sending" in stall[-1]["error"]["message"] and
              "--request-timeout" in stall[-1]["error"]["message"],
              "a stalled stream: %s" % stall)
        check(all(r.get("kind") == "frame" for r in stall[:-1]),
              "the stalled stream's frames before its error")
        print("ok a stalled stream:", stall[-1]["error"]["message"])
        # video_oracle.py sets OPENCV_FFMPEG_LOGLEVEL, which resnet-cli
        # inherits and must clear: with it OpenCV prints FFmpeg's messages on
        # stdout (records() would fail on them) and the reason is lost.
        gone = [r for r in lines if r["path"] == refused]
        check(len(gone) == 1 and gone[0]["error"]["kind"] == "io" and
              "Connection refused" in gone[0]["error"]["message"], "refused: %s" % gone)
        check(seconds < 60, "the run took %.0f s" % seconds)
        print("ok a refused stream:", gone[0]["error"]["message"], "(%.1f s in all)" % seconds)
    finally:
        server.close()


def test_bad(args, folder):
    clips = make_clips(folder, os.path.join(args.fixtures, "images"))
    data = open(clips["h264"], "rb").read()
    truncated = os.path.join(folder, "truncated.mp4")
    open(truncated, "wb").write(data[: len(data) // 2])
    plain = os.path.join(folder, "plain.mp4")  # its index at the end
    ffmpeg("-i", clips["h264"], "-c", "copy", plain)
    no_index = os.path.join(folder, "no_index.mp4")
    open(no_index, "wb").write(open(plain, "rb").read()[: len(data) // 2])
    empty = os.path.join(folder, "empty.mp4")
    open(empty, "wb").close()
    text = os.path.join(folder, "notes.avi")
    open(text, "w").write("not a video\n" * 20)
    photo = os.path.join(args.fixtures, "images", "photo_500x375.jpg")
    inputs = [truncated, no_index, empty, text, photo]
    run, seconds = run_cli(inputs, args.binary, args.fixtures, "--format", "jsonl",
                           check_rc=1, timeout=120)
    lines = records(run.stdout)
    closing = {r["path"]: r for r in lines if r.get("kind") != "frame"}
    check(list(closing) == inputs, "one closing record per input, in order: %s" % list(closing))
    expected = {truncated: ("decode", "stops after"), no_index: ("unsupported_format", "moov"),
                empty: ("empty_file", "empty"), text: ("unsupported_format", "not a video")}
    for path, (kind, words) in expected.items():
        error = closing[path].get("error")
        check(error and error["kind"] == kind and path in error["message"] and
              words in error["message"], "%s: %s" % (path, closing[path]))
        check("\n" not in error["message"], "one line: " + error["message"])
        print("ok %-12s %s" % (os.path.basename(path), error["message"]))
    check("predictions" in closing[photo], "the photo after them is classified")
    # The truncated clip's frames up to the cut, as the Python loop reads them.
    truth = Oracle(args.fixtures)
    got = [r for r in lines if r["path"] == truncated and r.get("kind") == "frame"]
    expected_frames = list(oracle.sampled_frames(truncated, oracle.Sampler("1s")))
    check([(r["frame"], r["time"]) for r in got] == [(i, t) for i, t, _ in expected_frames],
          "truncated: frames %s" % got)
    small = os.path.join(args.fixtures, "images", "small_100x80.jpg")
    run, _ = run_cli([clips["h264"], small], args.binary, args.fixtures, "--format", "jsonl",
                     "--max-pixels", "30000", check_rc=1)
    lines = records(run.stdout)
    check(lines[0]["error"]["kind"] == "too_large" and "--max-pixels" in
          lines[0]["error"]["message"] and len(lines) == 2 and "predictions" in lines[1],
          "frames above --max-pixels: %s" % lines)
    print("ok too large:", lines[0]["error"]["message"])
    check(seconds < 60, "the run took %.0f s" % seconds)
    del truth


def leads(times, tops, end, index):
    ranges = []
    for i, top in enumerate(tops):
        if top != index:
            continue
        until = times[i + 1] if i + 1 < len(times) else end
        if ranges and ranges[-1][1] == times[i]:
            ranges[-1][1] = until
        else:
            ranges.append([times[i], until])
    return ranges


def test_summary(args, folder):
    clips = make_clips(folder, os.path.join(args.fixtures, "images"))
    truth = Oracle(args.fixtures)
    for name in ("h264", "vfr"):
        path = clips[name]
        run, _ = run_cli([path], args.binary, args.fixtures, "--every", "0.3s",
                         "--format", "json", "--video-summary", "--topk", "3", check_rc=0)
        video = json.loads(run.stdout)[-1]
        check(video["kind"] == "video", "the last record is the video's")
        frames = truth.frames(path, "0.3s")
        probabilities = [torch.softmax(torch.tensor(row), 0).numpy() for _, _, row in frames]
        mean = np.mean(probabilities, axis=0)
        order = sorted(range(1000), key=lambda i: (-mean[i], i))[:3]
        got = video["predictions"]
        check([p["index"] for p in got] == order, "%s: top-3 %s, expected %s" % (
            name, [p["index"] for p in got], order))
        for p in got:
            check(abs(p["score"] - mean[p["index"]]) <= 1e-5, "%s: mean %s vs %f" % (
                name, p, mean[p["index"]]))
        times = [t for _, t, _ in frames]
        tops = [int(np.argmax(row)) for _, _, row in frames]
        table, _ = oracle.frame_table(path)
        end = round((table[-1] + (table[-1] - table[-2])) * 1000) / 1e6
        check(abs(video["end"] - end) < 1e-6 and video["frames"] == len(frames),
              "%s: end %s (expected %s), frames %s" % (name, video["end"], end, video["frames"]))
        for p in got:
            expected = leads(times, tops, end, p["index"])
            check(p["leads"] == expected, "%s: %s leads %s, expected %s" % (
                name, p["label"], p["leads"], expected))
        check(sum(1 for p in got if p["leads"]) >= 2, name + ": the test wants two leaders")
        print("ok %s: %s" % (name, ", ".join("%s %.4f leads %s" % (
            p["label"], p["score"], p["leads"]) for p in got)))


def test_resume(args, folder):
    clips = make_clips(folder, os.path.join(args.fixtures, "images"))
    inputs = [clips["h264"], clips["mjpeg"], clips["vp9"]]
    whole = os.path.join(folder, "whole.jsonl")
    run_cli(inputs, args.binary, args.fixtures, "--format", "jsonl", "-o", whole,
            "--every", "0.5s", check_rc=0)
    lines = open(whole).read().splitlines()
    # Killed inside the second video: its first two frames written, and half
    # a line.
    second = [i for i, line in enumerate(lines) if json.loads(line)["path"] == clips["mjpeg"]]
    partial = os.path.join(folder, "partial.jsonl")
    with open(partial, "w") as f:
        f.write("\n".join(lines[: second[0] + 2]) + "\n" + lines[second[0] + 2][:20])
    run, _ = run_cli(inputs, args.binary, args.fixtures, "--format", "jsonl", "-o", partial,
                     "--every", "0.5s", "--resume", check_rc=0)
    check("did not finish" in run.stderr, "resume says what it dropped: " + run.stderr)
    check(open(partial).read().splitlines() == lines,
          "the resumed file is not the whole run's")
    print("ok --resume read the unfinished video again:", run.stderr.strip().splitlines()[0])


def chromium(*arguments):
    run = subprocess.run(["timeout", "120", "chromium", "--headless", "--no-sandbox",
                          "--disable-gpu", "--hide-scrollbars", *arguments],
                         capture_output=True, text=True)
    check(run.returncode == 0, "chromium failed: " + run.stderr[-2000:])
    return run.stdout


def test_report(args, folder):
    import re
    from PIL import Image
    clips = make_clips(folder, os.path.join(args.fixtures, "images"))
    data = open(clips["h264"], "rb").read()
    truncated = os.path.join(folder, "truncated.mp4")
    open(truncated, "wb").write(data[: len(data) // 2])
    moved = os.path.join(folder, "moved.mp4")
    subprocess.run(["cp", clips["h264"], moved], check=True)
    photo = os.path.join(args.fixtures, "images", "photo_500x375.jpg")
    results = os.path.join(folder, "run.jsonl")
    run_cli([clips["h264"], clips["vfr"], truncated, moved, photo], args.binary,
            args.fixtures, "--every", "0.3s", "--video-summary", "--format", "jsonl",
            "-o", results, check_rc=1)
    os.remove(moved)
    lines = records(open(results).read())
    page = os.path.join(folder, "report.html")
    run = subprocess.run([args.binary, "report", results, "-o", page],
                         capture_output=True, text=True, timeout=300)
    check(run.returncode == 0, "report failed: " + run.stderr)
    check("moved.mp4" in run.stderr, "a warning names the video moved away: " + run.stderr)
    dom = chromium("--dump-dom", "file://" + page)
    sections = re.findall(r'<section class="video[^"]*".*?</section>', dom, re.S)
    videos = [clips["h264"], clips["vfr"], truncated, moved]
    check(len(sections) == len(videos), "%d video sections" % len(sections))
    for path, section in zip(videos, sections):
        frames = [r for r in lines if r["path"] == path and r.get("kind") == "frame"]
        check(path in section, path + ": its section is not where expected")
        labels = re.findall(r'<figure class="frame" data-frame="(\d+)" data-label="([^"]*)"',
                            section)
        check([(int(i), l) for i, l in labels] ==
              [(r["frame"], r["predictions"][0]["label"]) for r in frames],
              "%s: the strip %s" % (path, labels))
        images = section.count("<img ")
        check(images == (0 if path == moved else len(frames)),
              "%s: %d thumbnails for %d frames" % (path, images, len(frames)))
        tops = [r["predictions"][0]["label"] for r in frames]
        runs = sum(1 for i, top in enumerate(tops) if i == 0 or tops[i - 1] != top)
        segments = re.findall(r'<i style="left:[^"]*" data-label="([^"]*)"', section)
        check(len(segments) == runs, "%s: %d timeline segments for %d runs" % (
            path, len(segments), runs))
    check("stops after" in sections[2] and "decode" in sections[2],
          "the truncated video's section shows its error")
    check("mean of the frames" in sections[0], "the summary is shown")
    check('class="card record"' in dom, "the photo still has its card")
    shot = os.path.join(folder, "shot.png")
    chromium("--window-size=1200,1600", "--screenshot=" + shot, "file://" + page)
    colours = len(set(Image.open(shot).convert("RGB").getdata()))
    check(colours > 1000, "the screenshot has %d colours" % colours)
    print("ok the report shows %d videos as film strips (%d colours on screen)" % (
        len(sections), colours))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["parity", "stream", "bad", "summary", "resume",
                                         "report"])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--server", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="video-test-") as folder:
        globals()["test_" + args.mode](args, folder)
    print("PASS")


if __name__ == "__main__":
    main()
