#!/usr/bin/python3
"""The oracle for videos: what a Python loop over OpenCV and torchvision
gives, written as a user would write it, with resnet-cli's documented rules
for which frames are taken (README: Video) spelled out in Python.

    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    while cap.grab():
        t = cap.get(cv2.CAP_PROP_POS_MSEC)       # the frame's time
        if taken(index, t):
            rgb = cv2.cvtColor(cap.retrieve()[1], cv2.COLOR_BGR2RGB)
            x = weights.transforms()(Image.fromarray(rgb))
            logits = model(x.unsqueeze(0))

Keyframes and the times OpenCV loses (it reports 0 for the frames FFmpeg
drains at the end of a file) come from the container, read with ffprobe.
"""
import json
import math
import os
import subprocess

# FFmpeg's messages about damaged test clips are expected; keep them out of
# the test's log (OpenCV passes this level to FFmpeg).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2
import numpy as np
import torch
from PIL import Image


def frame_table(path):
    """(times in ms, keyframe flags) of the file's video packets in
    presentation order, the times computed as OpenCV computes
    CAP_PROP_POS_MSEC: (pts - stream start) * time base * 1000."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=start_pts,time_base:packet=pts,flags", "-of", "json", path],
        check=True, capture_output=True, text=True).stdout
    probe = json.loads(out)
    stream = probe["streams"][0]
    num, den = (int(x) for x in stream["time_base"].split("/"))
    start = int(stream["start_pts"])
    packets = sorted((int(p["pts"]), "K" in p["flags"]) for p in probe["packets"])
    times = [float(pts - start) * (num / den) * 1000 for pts, _ in packets]
    return times, [key for _, key in packets]


def microseconds(ms):
    """Whole microseconds, rounded half away from zero (C++'s llround)."""
    value = ms * 1000
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


class Sampler:
    """--every and --start/--end, as README: Video states the rule."""

    def __init__(self, every="1s", start=None, end=None):
        self.start_us = None if start is None else round(start * 1e6)
        self.end_us = None if end is None else round(end * 1e6)
        if every == "keyframe":
            self.mode = "key"
        elif every.endswith("ms"):
            self.mode, self.interval = "time", round(float(every[:-2]) * 1000)
        elif every.endswith("s"):
            self.mode, self.interval = "time", round(float(every[:-1]) * 1e6)
        else:
            self.mode, self.interval = "frames", int(every[:-1])
        self.started = False

    def next(self, index, time_us, keyframe):
        """'take', 'skip' or 'end'."""
        if self.end_us is not None and time_us >= self.end_us:
            return "end"
        if self.start_us is not None and time_us < self.start_us:
            return "skip"
        if not self.started:
            self.started = True
            self.anchor = time_us if self.start_us is None else self.start_us
            self.first = index
            if self.mode == "time":
                self.bucket = (time_us - self.anchor) // self.interval
            return "take" if self.mode != "key" or keyframe else "skip"
        if self.mode == "key":
            return "take" if keyframe else "skip"
        if self.mode == "frames":
            return "take" if (index - self.first) % self.interval == 0 else "skip"
        bucket = (time_us - self.anchor) // self.interval
        if bucket <= self.bucket:
            return "skip"
        self.bucket = bucket
        return "take"


def sampled_frames(path, sampler, table=None):
    """Yields (index, time in seconds, RGB ndarray) of the frames taken.
    `table`: frame_table(path) for a file (keyframes, lost times)."""
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    assert cap.isOpened(), path
    fps = cap.get(cv2.CAP_PROP_FPS)
    times, keys = table if table else ([], [])
    index, last, interval = 0, 0.0, 0.0
    while cap.grab():
        ms = cap.get(cv2.CAP_PROP_POS_MSEC)
        if index > 0 and ms == 0:  # OpenCV lost this frame's timestamp
            if index < len(times):
                ms = times[index]
            else:
                ms = last + (interval if interval > 0 else 1000 / fps)
        if index > 0:
            interval = ms - last
        last = ms
        verdict = sampler.next(index, microseconds(ms),
                               index < len(keys) and keys[index])
        if verdict == "end":
            break
        if verdict == "take":
            ok, bgr = cap.retrieve()
            assert ok
            yield index, microseconds(ms) / 1e6, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        index += 1


def logits_of(model, transforms, rgb_frames):
    """The model's logits for each frame (a list of numpy rows)."""
    with torch.no_grad():
        batch = torch.stack([transforms(Image.fromarray(rgb)) for rgb in rgb_frames])
        return [row.numpy().astype(np.float64) for row in model(batch)]
