#!/usr/bin/python3
"""Image files for the format tests, made at test time with Debian's PIL 9.4
(the oracle), which must read (or refuse) each as said below.

  make_format_cases.py OUT

OUT/samples/ and OUT/samples.json: one small image per format of the table
of image formats (src/image/formats/table.cpp), each with the size PIL gives
it. The [formats] unit tests check that each is sniffed as its format, that
its reader's size (what --max-pixels is checked on) is what its decoder
allocates and returns, and that --max-pixels refuses it just below.

OUT/pil/ and OUT/pil-known.json: files PIL reads that resnet-cli refused or
decoded otherwise (issue 22): a 28-byte lossless WebP; JPEGs whose scan is
complete and followed by an incomplete marker or by a DNL segment longer than
the file; PNGs whose IDAT declares more bytes than the file holds, whose IDAT
CRC is wrong, or whose IEND is missing; palette PNGs whose indices run past
the palette. compare_with_pil.py must find each exact, with and without
--allow-truncated (pil-known.json lists nothing: none may differ).

OUT/huge/ and OUT/huge.json: for each format, a header that claims a 9000 x
9000 image (under --max-pixels' default) over a few bytes of data, and the
28-byte PNM of issue 22 whose comment ends at a CR. PIL refuses every one;
bounded_refusals.py checks that resnet-cli refuses each at once.
"""

import io
import json
import os
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image

W = H = 9000  # 81 M pixels, under Pillow's MAX_IMAGE_PIXELS


def natural(width, height, seed):
    """A smooth image with some noise: every codec has work to do."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    (x + y) * 3 % 256], -1)
    return np.clip(rgb + rng.integers(0, 24, rgb.shape), 0, 255).astype(np.uint8)


def encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data)))


def png_file(width, height, color, depth, raw, palette=None, interlace=0):
    chunks = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth,
                                            color, 0, 0, interlace))
    if palette is not None:
        chunks += png_chunk(b"PLTE", bytes(palette))
    chunks += png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def pil_reads(data):
    """PIL's RGB image, or None when PIL refuses the file. What its codecs
    print on stderr (libtiff does) is dropped."""
    stderr = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.convert("RGB")
    except Exception:  # any refusal, as compare_with_pil.py counts it
        return None
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)


# --- one sample per format ---------------------------------------------------

def samples():
    rgb = Image.fromarray(natural(37, 23, 1))
    square = Image.fromarray(natural(32, 32, 2))
    return [
        ("JPEG", "sample.jpg", encoded(rgb, "JPEG", quality=90)),
        ("PNG", "sample.png", encoded(rgb, "PNG")),
        ("GIF", "sample.gif", encoded(rgb.convert("P"), "GIF")),
        ("BMP", "sample.bmp", encoded(rgb, "BMP")),
        ("TIFF", "sample.tif", encoded(rgb, "TIFF")),
        ("WebP", "sample.webp", encoded(rgb, "WEBP", quality=80)),
        ("PNM", "sample.ppm", encoded(rgb, "PPM")),
        ("JPEG 2000", "sample.jp2", encoded(rgb, "JPEG2000")),
        ("ICO", "sample.ico", encoded(square, "ICO", sizes=[(32, 32)])),
        ("DIB", "sample.dib", encoded(rgb, "DIB")),
        ("TGA", "sample.tga", encoded(rgb, "TGA")),
    ]


# --- what PIL reads and resnet-cli did not ------------------------------------

def bits_to_bytes(bits):
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        out[i // 8] |= bit << (i % 8)
    return bytes(out)


def vp8l(width, height, body_bits):
    """A lossless WebP file: VP8L header for width x height, then bits."""
    bits = []

    def put(value, count):
        bits.extend((value >> i) & 1 for i in range(count))

    put(width - 1, 14)
    put(height - 1, 14)
    put(1, 1)  # alpha is used
    put(0, 3)  # version
    body_bits(put)
    data = b"\x2f" + bits_to_bytes(bits)
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data
    if len(data) % 2:
        chunk += b"\0"
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def one_pixel_body(put):
    put(0, 1)  # no transform
    put(0, 1)  # no colour cache
    put(0, 1)  # no meta prefix codes
    # Five simple prefix codes of one 1-bit symbol each (green, red, blue,
    # alpha, distance): the pixel costs no bits at all.
    for symbol in (1, 1, 0, 1, 0):
        put(1, 1)
        put(0, 1)
        put(0, 1)
        put(symbol, 1)


def pil_cases():
    cases = {}
    webp = vp8l(1, 1, one_pixel_body)
    assert len(webp) == 28, len(webp)
    cases["lossless_28_bytes.webp"] = webp

    jpeg = encoded(Image.fromarray(natural(64, 48, 3)), "JPEG", quality=90)
    assert jpeg.endswith(b"\xff\xd9")
    scan = jpeg[:-2]  # the complete scan, without its EOI
    cases["stray_app1_after_scan.jpg"] = scan + b"\xff\xe1\x00\x40ab"
    cases["stray_dht_after_scan.jpg"] = scan + b"\xff\xc4\x00"
    cases["dnl_past_end.jpg"] = scan + b"\xff\xdc\xff\xff\x00"
    gray = encoded(Image.fromarray(natural(40, 30, 4)).convert("L"), "JPEG")
    cases["dnl_past_end_gray.jpg"] = gray[:-2] + b"\xff\xdc\x40\x00"

    png = encoded(Image.fromarray(natural(64, 48, 5)), "PNG")
    at = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[at:at + 4])[0]
    longer = struct.pack(">I", length + 100000)
    cases["idat_past_end.png"] = png[:at] + longer + png[at + 4:at + 8 + length]
    cases["idat_past_end_then_iend.png"] = png[:at] + longer + png[at + 4:]
    bad_crc = bytearray(png)
    bad_crc[at + 8 + length:at + 12 + length] = b"\x01\x02\x03\x04"
    cases["idat_bad_crc.png"] = bytes(bad_crc)
    cases["no_iend.png"] = png[:png.index(b"IEND") - 4]

    indices = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(48, 64)
    raw = b"".join(b"\0" + row.tobytes() for row in indices)
    cases["palette_short_8bit.png"] = png_file(
        64, 48, 3, 8, raw, palette=[10, 20, 30, 200, 100, 50, 0, 255, 0])
    packed = (np.arange(16 * 8) % 16).astype(np.uint8).reshape(8, 16)
    raw4 = b"".join(b"\0" + bytes((row[i] << 4) | row[i + 1]
                                  for i in range(0, 16, 2)) for row in packed)
    cases["palette_short_4bit.png"] = png_file(
        16, 8, 3, 4, raw4, palette=[255, 0, 0, 0, 0, 255])
    cases["palette_short_interlaced.png"] = png_file(
        64, 48, 3, 8, adam7(indices), palette=[1, 2, 3] * 5, interlace=1)
    return cases


def adam7(indices):
    """The raw (filter 0) rows of an Adam7-interlaced 8-bit image."""
    height, width = indices.shape
    out = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8),
                           (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)):
        rows = indices[y0::dy, x0::dx]
        if rows.size:
            out += b"".join(b"\0" + row.tobytes() for row in rows)
    return out


# --- huge headers over little data --------------------------------------------

def patched_jpeg(progressive):
    data = bytearray(encoded(Image.fromarray(natural(64, 64, 6)), "JPEG",
                             progressive=progressive))
    frame = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    data[frame + 5:frame + 9] = struct.pack(">HH", H, W)
    return bytes(data[:len(data) * 2 // 3])  # cut inside the scans: no EOI


def bmp_file(bits, compression, pixels, colours=0, file_header=True):
    info = struct.pack("<IiiHHIIiiII", 40, W, H, 1, bits, compression, 0, 0, 0,
                       colours, 0) + b"\0\0\0\0" * colours
    if not file_header:
        return info + pixels
    offset = 14 + len(info)
    return (b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) +
            info + pixels)


def tga_file(kind, depth, pixels):
    return struct.pack("<BBBHHBHHHHBB", 0, 0, kind, 0, 0, 0, 0, 0, W, H, depth,
                       0x20) + pixels


def tiff_file(compression, strip):
    entries = [(256, 4, W), (257, 4, H), (258, 3, 8), (259, 3, compression),
               (262, 3, 1), (273, 4, 0), (277, 3, 1), (278, 4, H),
               (279, 4, len(strip))]
    data_at = 8 + 2 + 12 * len(entries) + 4
    out = b"II*\0" + struct.pack("<IH", 8, len(entries))
    for tag, kind, value in entries:
        value = data_at if tag == 273 else value
        packed = (struct.pack("<HH", value, 0) if kind == 3 else
                  struct.pack("<I", value))
        out += struct.pack("<HHI", tag, kind, 1) + packed
    return out + b"\0\0\0\0" + strip


def gif_file():
    return (b"GIF89a" + struct.pack("<HHBBB", W, H, 0x80, 0, 0) +
            b"\0\0\0\xff\xff\xff" + b"," + struct.pack("<HHHHB", 0, 0, W, H, 0) +
            b"\x02\x05\x84\x8f\xa9\xcb\x01\x00;")


def webp_lossless_file():
    def truncated_body(put):
        put(0, 1)
        put(0, 1)
        put(0, 1)
        put(0, 1)  # a normal prefix code, whose lengths never come
        put(1, 4)
    return vp8l(W, H, truncated_body)


def webp_lossy_file():
    data = bytearray(encoded(Image.fromarray(natural(64, 64, 7)), "WEBP",
                             quality=80))
    frame = data.index(b"VP8 ") + 8
    data[frame + 6:frame + 10] = struct.pack("<HH", W, H)
    return bytes(data)


def j2k_file():
    data = bytearray(encoded(Image.fromarray(natural(64, 64, 8)), "JPEG2000",
                             no_jp2=True))
    siz = data.index(b"\xff\x51")
    data[siz + 6:siz + 14] = struct.pack(">II", W, H)  # the image
    data[siz + 22:siz + 30] = struct.pack(">II", W, H)  # one tile
    tile = data.index(b"\xff\x90")
    return bytes(data[:tile + (len(data) - tile) // 2])


def ico_file(image):
    directory = struct.pack("<HHH", 0, 1, 1) + struct.pack(
        "<BBBBHHII", 0, 0, 0, 0, 1, 24, len(image), 22)
    return directory + image


def huge_cases():
    pixels = b"\0" * 100
    idat = zlib.compress(b"\0" * 1000)
    return [
        ("PNM", "pnm_comment_ends_at_cr.ppm",
         b"P6\n#\r15000 15000\n1 1\n255\n" + b"\0\0\0"),
        ("PNM", "raw.ppm", b"P6\n%d %d\n255\n" % (W, H) + pixels),
        ("PNM", "plain.ppm", b"P3\n%d %d\n255\n" % (W, H) + b"1 2 3\n" * 10),
        ("PNM", "bits.pbm", b"P4\n%d %d\n" % (W, H) + pixels),
        ("PNG", "rgb.png", png_file(W, H, 2, 8, b"")[:33] +
         png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")),
        ("PNG", "interlaced.png", png_file(W, H, 2, 8, b"", interlace=1)[:33] +
         png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")),
        ("JPEG", "baseline.jpg", patched_jpeg(False)),
        ("JPEG", "progressive.jpg", patched_jpeg(True)),
        ("BMP", "raw.bmp", bmp_file(24, 0, pixels)),
        ("BMP", "rle8.bmp", bmp_file(8, 1, b"\x05\x01" * 10, colours=256)),
        ("DIB", "raw.dib", bmp_file(24, 0, pixels, file_header=False)),
        ("TGA", "raw.tga", tga_file(2, 24, pixels)),
        ("TGA", "rle.tga", tga_file(10, 24, b"\xff\0\0\0" * 10)),
        ("GIF", "frame.gif", gif_file()),
        ("WebP", "lossless.webp", webp_lossless_file()),
        ("WebP", "lossy.webp", webp_lossy_file()),
        ("TIFF", "raw.tif", tiff_file(1, pixels)),
        ("TIFF", "deflate.tif", tiff_file(8, idat)),
        ("JPEG 2000", "codestream.j2k", j2k_file()),
        ("ICO", "dib.ico", ico_file(struct.pack(
            "<IiiHHIIiiII", 40, W, 2 * H, 1, 24, 0, 0, 0, 0, 0, 0) + pixels)),
        ("ICO", "png.ico", ico_file(png_file(W, H, 2, 8, b"")[:33] +
                                    png_chunk(b"IDAT", idat) +
                                    png_chunk(b"IEND", b""))),
    ]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1]
    listed = []
    for name, file_name, data in samples():
        image = pil_reads(data)
        assert image is not None, "PIL no longer reads the %s sample" % name
        write(os.path.join(out, "samples", file_name), data)
        listed.append({"format": name, "file": "samples/" + file_name,
                       "size": list(image.size)})
    with open(os.path.join(out, "samples.json"), "w") as f:
        json.dump(listed, f, indent=1)

    for file_name, data in pil_cases().items():
        assert pil_reads(data) is not None, "PIL no longer reads " + file_name
        write(os.path.join(out, "pil", file_name), data)
    with open(os.path.join(out, "pil-known.json"), "w") as f:
        json.dump({}, f)

    listed = []
    for name, file_name, data in huge_cases():
        assert pil_reads(data) is None, "PIL now reads huge/" + file_name
        write(os.path.join(out, "huge", file_name), data)
        listed.append({"format": name, "file": "huge/" + file_name,
                       "bytes": len(data)})
    with open(os.path.join(out, "huge.json"), "w") as f:
        json.dump(listed, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
