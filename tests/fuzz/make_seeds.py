#!/usr/bin/python3
"""Seed corpora for the libFuzzer targets, made with PIL and torch.

  make_seeds.py OUT    writes OUT/decode/*, OUT/checkpoint/* and OUT/http/*

decode: small images in every format and mode resnet-cli reads (each
decoder under src/image/formats), the small files of Pillow's test images vendored
in tests/data/pillow, the files PIL reads that tests/oracle/make_format_cases.py
makes (stray markers, IDATs past the end, short palettes, ...), and a few
broken ones. checkpoint: a first byte choosing the target's mode (0: a
file, 1: a bare pickle), then a tiny state_dict as torch.save writes it
(zip and legacy), a wrapped one, hostile pickles, and plain pickles. http:
a byte choosing the server, then requests as clients send them (http_seeds).
"""

import collections
import io
import os
import pickle
import sys

import numpy as np
import torch
from PIL import Image


def image(width, height, seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (max(2, height // 4), max(2, width // 4), 3), dtype=np.uint8)
    return Image.fromarray(base).resize((width, height), Image.BILINEAR)


def encoded(picture, fmt, **kwargs):
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def decode_seeds():
    rgb = image(24, 17, 1)
    seeds = {
        "rgb.jpg": encoded(rgb, "JPEG", quality=80),
        "progressive.jpg": encoded(rgb, "JPEG", quality=70, progressive=True),
        "gray.jpg": encoded(rgb.convert("L"), "JPEG"),
        "cmyk.jpg": encoded(rgb.convert("CMYK"), "JPEG"),
        "rgb.png": encoded(rgb, "PNG"),
        "interlaced.png": encoded(rgb, "PNG", interlace=1),
        "rgba.png": encoded(rgb.convert("RGBA"), "PNG"),
        "gray_alpha.png": encoded(rgb.convert("LA"), "PNG"),
        "palette.png": encoded(rgb.convert("P", palette=Image.ADAPTIVE, colors=8), "PNG",
                               transparency=2),
        "bilevel.png": encoded(rgb.convert("1"), "PNG"),
        "gray16.png": encoded(Image.fromarray(
            np.asarray(rgb.convert("L"), dtype=np.uint16) * 200, "I;16"), "PNG"),
        "rgb.bmp": encoded(rgb, "BMP"),
        "rgb.tiff": encoded(rgb, "TIFF"),
        "rgb.webp": encoded(rgb, "WEBP", lossless=True),
        "lossy.webp": encoded(rgb, "WEBP", quality=50),
        "rgb.ppm": encoded(rgb, "PPM"),
        "gray.pgm": encoded(rgb.convert("L"), "PPM"),
        "rgb.gif": encoded(rgb.convert("P"), "GIF"),
        "interlaced.gif": encoded(rgb.convert("P"), "GIF", interlace=True,
                                  transparency=3),
        "animated.gif": encoded(rgb.convert("P"), "GIF", save_all=True,
                                append_images=[rgb.rotate(90).convert("P")]),
        "pal1.bmp": encoded(rgb.convert("1"), "BMP"),
        "pal8.bmp": encoded(rgb.convert("P"), "BMP"),
        "gray.bmp": encoded(rgb.convert("L"), "BMP"),
        "rgba.bmp": encoded(rgb.convert("RGBA"), "BMP"),
        "rgb.tga": encoded(rgb, "TGA"),
        "rle.tga": encoded(rgb, "TGA", compression="tga_rle"),
        "palette.tga": encoded(rgb.convert("P"), "TGA", compression="tga_rle"),
        "gray.tga": encoded(rgb.convert("L"), "TGA"),
        "png.ico": encoded(rgb, "ICO", sizes=[(16, 16), (24, 24)]),
        "lzw.tiff": encoded(rgb, "TIFF", compression="tiff_lzw"),
        "packbits.tiff": encoded(rgb.convert("L"), "TIFF", compression="packbits"),
        "group4.tiff": encoded(rgb.convert("1"), "TIFF", compression="group4"),
        "jpeg.tiff": encoded(rgb, "TIFF", compression="jpeg"),
        "cmyk.tiff": encoded(rgb.convert("CMYK"), "TIFF"),
        "palette.tiff": encoded(rgb.convert("P"), "TIFF"),
        "gray16.tiff": encoded(Image.fromarray(
            np.asarray(rgb.convert("L"), dtype=np.uint16) * 200, "I;16"), "TIFF"),
        "float.tiff": encoded(rgb.convert("F"), "TIFF"),
        "animated.webp": encoded(rgb, "WEBP", save_all=True,
                                 append_images=[rgb.rotate(90)], lossless=True),
        "rgb.j2k": encoded(rgb, "JPEG2000"),
        "rgba.jp2": encoded(rgb.convert("RGBA"), "JPEG2000", irreversible=True),
        "plain.pgm": b"P2\n# plain\n3 2\n300\n0 150 300\n1 2 3\n",
        "plain.pbm": b"P1 4 2 0101 1010\n",
        "plain.ppm": b"P3 2 1 255 1 2 3 4 5 6\n",
        "wide.pgm": b"P5 2 2 65535\n" + bytes(range(8)),
        "wide.ppm": b"P6 1 1 1000\n\x01\x02\x03\x04\x05\x06",
    }
    # Pillow's own test images vendored for the corpus test (RLE and OS/2
    # BMPs, odd TIFFs, ...): the small ones.
    pillow = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                          "pillow", "images")
    for root, _, files in os.walk(pillow):
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.getsize(path) <= 16384:
                with open(path, "rb") as f:
                    relative = os.path.relpath(path, pillow).replace(os.sep, "_")
                    seeds["pillow-" + relative] = f.read()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "oracle"))
    from make_format_cases import pil_cases  # pylint: disable=import-outside-toplevel
    for name, data in pil_cases().items():
        seeds["format-case-" + name] = data
    seeds["truncated.jpg"] = seeds["rgb.jpg"][: len(seeds["rgb.jpg"]) // 2]
    seeds["truncated.png"] = seeds["rgb.png"][: len(seeds["rgb.png"]) // 2]
    return seeds


def zip_bytes(obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def checkpoint_seeds():
    torch.manual_seed(0)
    state = collections.OrderedDict(
        [("conv1.weight", torch.randn(2, 3, 1, 1)), ("bn1.running_mean", torch.randn(2)),
         ("bn1.num_batches_tracked", torch.tensor(3)),
         ("fc.weight", torch.randn(3, 2).t()), ("fc.bias", torch.randn(2).half())])
    # A converted quantized state_dict's kinds of entry: per-channel and
    # per-tensor quantized tensors, a dtype, a quantized Linear's packed
    # (weight, bias), module versions in _metadata.
    weight = torch.quantize_per_channel(torch.randn(2, 3, 1, 1), torch.tensor([0.1, 0.2]).double(),
                                        torch.zeros(2, dtype=torch.long), 0, torch.qint8)
    quantized = collections.OrderedDict(
        [("conv1.weight", weight), ("conv1.scale", torch.tensor(0.05)),
         ("conv1.zero_point", torch.tensor(3)),
         ("act", torch.quantize_per_tensor(torch.rand(4), 0.01, 7, torch.quint8)),
         ("fc._packed_params.dtype", torch.qint8),
         ("fc._packed_params._packed_params", (weight.reshape(2, 3), torch.randn(2)))])
    quantized._metadata = collections.OrderedDict([("fc", {"version": 3})])
    files = {
        "state.pth": zip_bytes(state),
        "quantized.pth": zip_bytes(quantized),
        "legacy.pth": zip_bytes(state, _use_new_zipfile_serialization=False),
        "wrapped.pth": zip_bytes({"model": state, "epoch": 1}),
    }
    pickles = {
        "state.pkl": pickle.dumps({"a": [1, 2.5, "x", b"y", None, True, (3, 4)]}, protocol=2),
        "protocol4.pkl": pickle.dumps({"k": list(range(5)), "s": {1, 2}}, protocol=4),
        "ordered.pkl": pickle.dumps(collections.OrderedDict(a=1, b=[2]), protocol=2),
        "os_system.pkl": b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00idq\x00\x85R.",
        "huge_length.pkl": b"\x80\x02X\xf0\xff\xff\xffabc.",
    }
    seeds = {"file-" + name: b"\x00" + data for name, data in files.items()}
    seeds.update({"pickle-" + name: b"\x01" + data for name, data in pickles.items()})
    return seeds


def http_seeds(images):
    """Requests as clients send them, the first byte choosing the server
    (0: no API key, 1: key "k"): every endpoint and method, raw and
    multipart uploads of small images, chunked bodies, pipelines,
    Expect: 100-continue, and the framing errors RFC 9112 names."""
    jpeg, png = images["rgb.jpg"], images["rgb.png"]

    def post(target, body, headers=""):
        return (b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n"
                % (target.encode(), headers.encode(), len(body))) + body

    def chunked(target, body):
        pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
        data = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces)
        return (b"PUT %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                % target.encode()) + data + b"0\r\nTrailer: t\r\n\r\n"

    boundary = b"b0undary"
    form = b"".join(b"--%s\r\nContent-Disposition: form-data; name=\"data\"; filename=\"%s\"\r\n"
                    b"Content-Type: image/x\r\n\r\n%s\r\n" % (boundary, name, data)
                    for name, data in ((b"a.jpg", jpeg), (b"b.png", png))) + b"--%s--\r\n" % boundary
    multipart = "Content-Type: multipart/form-data; boundary=%s\r\n" % boundary.decode()
    key = "Authorization: Bearer k\r\n"
    ping = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    seeds = {
        "ping": b"\x00" + ping,
        "ping-http10": b"\x00GET /ping HTTP/1.0\r\n\r\n",
        "head-ping": b"\x00HEAD /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "models": b"\x01GET /models HTTP/1.1\r\nHost: x\r\n" + key.encode() + b"\r\n",
        "describe": b"\x00GET /models/fuzz/all HTTP/1.1\r\nHost: x\r\n\r\n",
        "options": b"\x00OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "metrics": b"\x01GET /metrics HTTP/1.1\r\nHost: x\r\n" + key.encode() + b"\r\n",
        "predict-raw": b"\x00" + post("/predictions/fuzz?topk=3", jpeg),
        "predict-version": b"\x01" + post("/predictions/fuzz/1.0", png, key),
        "predict-multipart": b"\x00" + post("/predictions/fuzz", form, multipart),
        "classify-logit": b"\x00" + post("/v1/classify?output_type=logit&topk=2", form, multipart),
        "classify-embedding": b"\x00" + post("/v1/classify?output_type=embedding", png),
        "classify-chunked": b"\x00" + chunked("/v1/classify", jpeg),
        "expect-continue": b"\x01" + post("/v1/classify", png, key + "Expect: 100-continue\r\n"),
        "pipeline": b"\x00" + ping + post("/v1/classify", jpeg) + ping,
        "absolute-target": b"\x00GET http://x/ping?a=%20b HTTP/1.1\r\nHost: x\r\n\r\n",
        "cl-te": b"\x00" + post("/v1/classify", b"0\r\n\r\n", "Transfer-Encoding: chunked\r\n") + ping,
        "two-lengths": b"\x00POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "no-length": b"\x00POST /v1/classify HTTP/1.1\r\nHost: x\r\n\r\n",
        "no-host": b"\x00GET /ping HTTP/1.1\r\n\r\n",
        "gzip-chunked": b"\x00POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "http2": b"\x00PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "bad-key": b"\x01" + post("/predictions/fuzz", jpeg, "Authorization: bearer nope\r\n"),
        "bad-form": b"\x00" + post("/predictions/fuzz", b"--b0undary\r\n\r\nx", multipart),
        # Found by fuzzing: a target's bytes above 0x7f in an error message
        # made its JSON throw on the event loop.
        "latin1-target": b"\x00GET /models/fuz\x86\xceall HTTP/1.1\r\nHost: x\r\n\r\n",
    }
    return seeds


def main():
    out = sys.argv[1]
    images = decode_seeds()
    for kind, seeds in (("decode", images), ("checkpoint", checkpoint_seeds()), ("http", http_seeds(images))):
        folder = os.path.join(out, kind)
        os.makedirs(folder, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
    print("seeds written to", out)


if __name__ == "__main__":
    main()
