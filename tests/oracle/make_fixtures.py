#!/usr/bin/python3
"""Makes the test fixtures with torchvision itself, the oracle.

Run with Debian's /usr/bin/python3 (python3-torchvision). Writes into OUT:
  checkpoints/  state_dicts as torch.save writes them (zip, legacy, wrapped,
                half precision, ResNet18, hostile pickles)
  torch_home/   a torch.hub cache holding the fixture under both registry names
  images/       test images of many sizes, modes and formats
  ref/          PIL crops, transformed tensors and model logits (.npy)
  family/       the ten ResNet/ResNeXt/Wide ResNet architectures: checkpoints,
                inputs, logits, features, a torch.hub cache, non-members
  manifest.json what is where, plus torchvision's weights meta

Skips the work when OUT already holds fixtures made by this same script.
"""

import argparse
import collections
import fcntl
import hashlib
import io
import json
import os
import struct
import sys
import time
import zipfile
import zlib

import numpy as np
import torch
import torchvision
from PIL import Image, ImageOps
from torchvision.models import ResNet50_Weights, resnet18, resnet50
from torchvision.models import resnet as tv_resnet
from torchvision.models.resnet import Bottleneck
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

SEED = 20261129


def script_hash(*scripts):
    """SHA-256 of the scripts that make a fixture (default: this one)."""
    digest = hashlib.sha256()
    for script in scripts or (__file__,):
        with open(script, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def made_with(digest):
    """What a fixture's stamp records of how it was made: its scripts' hash
    and the oracle's versions (another torch remakes it)."""
    return {"script_hash": digest, "torch": torch.__version__,
            "torchvision": torchvision.__version__}


def up_to_date(stamp, digest):
    """Whether the fixture whose stamp file is `stamp` was made by scripts
    hashing to `digest` with this oracle (a changed script remakes its
    fixture); marks it used (see prune_stale)."""
    if not os.path.exists(stamp):
        return False
    with open(stamp) as f:
        recorded = json.load(f)
    if any(recorded.get(k) != v for k, v in made_with(digest).items()):
        return False
    os.utime(stamp)
    return True


def locked(out):
    """Holds an exclusive lock on fixture folder `out` (a file beside it)
    until the returned file is closed: builds that share a fixture root
    (tests/CMakeLists.txt) wait for the one making it instead of writing the
    same files at once."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    lock = open(out + ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


STALE_DAYS = 7


def prune_stale(out, stamp_name):
    """Removes the sets beside `out` of the same kind (its name up to the
    last '-', the rest being a script hash) whose stamp nobody has used for
    STALE_DAYS days: each edit of a script makes a new set, and the old ones
    would pile up. A set in use is never this old; one removed by mistake
    is only made again."""
    import shutil
    root, name = os.path.split(out)
    kind = name.rsplit("-", 1)[0] + "-"
    now = time.time()
    for other in os.listdir(root):
        path = os.path.join(root, other)
        if (other == name or not other.startswith(kind) or other.endswith(".lock")
                or not os.path.isdir(path)):
            continue
        stamp = os.path.join(path, stamp_name)
        used = os.path.getmtime(stamp if os.path.exists(stamp) else path)
        if now - used > STALE_DAYS * 86400:
            with locked(path):
                shutil.rmtree(path, ignore_errors=True)
            os.remove(path + ".lock")


# --------------------------------------------------------------------------
# Model and checkpoints


def pooled_features(model, batch):
    """What feeds fc: [N, 512] (BasicBlock) or [N, 2048] (Bottleneck)."""
    return torch.nn.Sequential(*list(model.children())[:-1])(batch).flatten(1)


def calibrate_batch_norms(model, batch):
    """BatchNorm statistics measured (train mode) on `batch`, affine
    parameters randomized, each block's last BatchNorm scaled down as training
    leaves it (so that, as in a trained network, the identity path carries
    the signal and small input changes stay small). Leaves the model in eval
    mode."""
    last_bn = "bn3" if isinstance(model.layer1[0], Bottleneck) else "bn2"
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average
            with torch.no_grad():
                if name.endswith(last_bn):
                    module.weight.uniform_(0.05, 0.3)
                else:
                    module.weight.uniform_(0.7, 1.3)
                module.bias.uniform_(-0.2, 0.2)
    half = len(batch) // 2
    model.train()
    with torch.no_grad():
        model(batch[:half])
        model(batch[half:])
    model.eval()


def centre_fc(model, features):
    """An fc layer centred on the mean of `features` so that logits spread
    over a few units and the top class changes from image to image."""
    with torch.no_grad():
        weight = torch.randn(model.fc.out_features, features.shape[1]) * 0.3
        model.fc.weight.copy_(weight)
        model.fc.bias.copy_(-weight @ features.mean(0)
                            + torch.randn(model.fc.out_features) * 0.1)


def calibrate(model, batch):
    """Makes a torchvision ResNet behave like a trained one without being
    one (calibrate_batch_norms, then centre_fc on `batch`)."""
    calibrate_batch_norms(model, batch)
    with torch.no_grad():
        centre_fc(model, pooled_features(model, batch))
    return model


def calibrated_resnet50():
    """The ResNet50 most tests use, calibrated on 224x224 crops of photo-like
    images."""
    torch.manual_seed(SEED)
    model = resnet50()
    transform = ResNet50_Weights.IMAGENET1K_V2.transforms()
    batch = torch.stack([
        transform(Image.fromarray(natural_image(280, 240, 1000 + i), "RGB"))
        for i in range(12)])
    return calibrate(model, batch)


def oddly_laid_out(state_dict):
    """The same values with layouts torch.save must preserve: a transposed
    (non-contiguous) fc.weight, and bn1's running statistics as two views of
    one storage at different offsets."""
    out = dict(state_dict)
    out["fc.weight"] = state_dict["fc.weight"].t().contiguous().t()
    mean, var = state_dict["bn1.running_mean"], state_dict["bn1.running_var"]
    shared = torch.cat([mean, var])
    out["bn1.running_mean"] = shared[: mean.numel()]
    out["bn1.running_var"] = shared[mean.numel():]
    return type(state_dict)(out.items())


def hostile_zip(path, pickle_bytes):
    """A torch.save-shaped zip whose data.pkl is the given pickle."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        archive.writestr("archive/version", "3\n")


class Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def make_checkpoints(out, model):
    ckpt = os.path.join(out, "checkpoints")
    os.makedirs(ckpt, exist_ok=True)
    state_dict = model.state_dict()
    paths = {}

    paths["zip"] = os.path.join(ckpt, "resnet50_fixture.pth")
    torch.save(oddly_laid_out(state_dict), paths["zip"])

    paths["legacy"] = os.path.join(ckpt, "resnet50_legacy.pth")
    torch.save(state_dict, paths["legacy"], _use_new_zipfile_serialization=False)

    # torchvision's reference scripts: {"model": ..., "args": Namespace, ...},
    # here with DistributedDataParallel's "module." prefixes too.
    wrapped = {
        "model": type(state_dict)(("module." + k, v) for k, v in state_dict.items()),
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
        "epoch": 7,
        "args": argparse.Namespace(lr=0.5, model="resnet50", data_path=b"/data"),
    }
    paths["wrapped"] = os.path.join(ckpt, "resnet50_wrapped.pth")
    torch.save(wrapped, paths["wrapped"])

    half = type(state_dict)(
        (k, v.half() if v.is_floating_point() else v) for k, v in state_dict.items()
    )
    paths["half"] = os.path.join(ckpt, "resnet50_half.pth")
    torch.save(half, paths["half"])

    # A fine-tuned head with 10 classes.
    torch.manual_seed(SEED + 1)
    tuned = dict(state_dict)
    tuned["fc.weight"] = torch.randn(10, 2048) * 0.05
    tuned["fc.bias"] = torch.randn(10)
    paths["ten_classes"] = os.path.join(ckpt, "resnet50_10classes.pth")
    torch.save(type(state_dict)(tuned.items()), paths["ten_classes"])

    torch.manual_seed(SEED + 2)
    paths["resnet18"] = os.path.join(ckpt, "resnet18.pth")
    torch.save(resnet18().state_dict(), paths["resnet18"])

    # Pickles that would run a command. The marker must never appear.
    marker = os.path.join(out, "PWNED")
    paths["evil_marker"] = marker
    paths["evil_os_system"] = os.path.join(ckpt, "evil_os_system.pth")
    command = "touch " + marker
    hostile_zip(
        paths["evil_os_system"],
        b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(command))
        + command.encode() + b"q\x01\x85q\x02Rq\x03.",
    )
    # A string whose length field claims 4 GiB.
    paths["huge_length"] = os.path.join(ckpt, "huge_length.pth")
    hostile_zip(paths["huge_length"], b"\x80\x02}q\x00X\xf0\xff\xff\xffabc.")
    paths["evil_torch_save"] = os.path.join(ckpt, "evil_torch_save.pth")
    torch.save({"conv1.weight": Evil(command)}, paths["evil_torch_save"])

    with open(paths["zip"], "rb") as f:
        head = f.read(1 << 20)
    paths["truncated"] = os.path.join(ckpt, "truncated.pth")
    with open(paths["truncated"], "wb") as f:
        f.write(head)
    paths["not_a_zip"] = os.path.join(ckpt, "not_a_zip.pth")
    with open(paths["not_a_zip"], "wb") as f:
        f.write(b"<html><body>404 Not Found</body></html>\n")
    paths["empty"] = os.path.join(ckpt, "empty.pth")
    open(paths["empty"], "wb").close()

    # Where torch.hub keeps downloads, under both registry names.
    hub = os.path.join(out, "torch_home", "hub", "checkpoints")
    os.makedirs(hub, exist_ok=True)
    for weights in ResNet50_Weights:
        link = os.path.join(hub, os.path.basename(weights.url))
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.abspath(paths["zip"]), link)

    # A few raw tensors to check the reader's values against.
    ref = os.path.join(out, "ref")
    os.makedirs(ref, exist_ok=True)
    for key in ["conv1.weight", "bn1.running_mean", "bn1.running_var",
                "layer4.2.bn3.running_var", "fc.weight", "fc.bias"]:
        np.save(os.path.join(ref, "param_" + key + ".npy"),
                state_dict[key].numpy())
    return {k: os.path.relpath(v, out) for k, v in paths.items()}


# --------------------------------------------------------------------------
# Images


def natural_image(width, height, seed):
    """Photo-like content: smooth colour fields, edges, gradients and grain,
    so that every tap of the resampler matters."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((max(2, height // 40), max(2, width // 40), 3))
    field = np.asarray(
        Image.fromarray((coarse * 255).astype(np.uint8)).resize(
            (width, height), Image.BICUBIC), dtype=np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    rings = 60 * np.sin((xx * 0.11 + yy * 0.07) + 5 * np.sin(yy * 0.013))
    field = field + rings[..., None] * np.array([1.0, -0.6, 0.3])
    block = (xx // max(1, width // 7) + yy // max(1, height // 5)) % 2
    field = field + 40 * block[..., None]
    field = field + rng.normal(0, 12, field.shape)
    return np.clip(field, 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png16_rgb(path, pixels16):
    """PIL cannot write 16-bit RGB PNGs; this minimal encoder can."""
    height, width, _ = pixels16.shape
    rows = b"".join(b"\x00" + pixels16[y].astype(">u2").tobytes()
                    for y in range(height))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)))
        f.write(png_chunk(b"IDAT", zlib.compress(rows)))
        f.write(png_chunk(b"IEND", b""))


def make_images(out):
    folder = os.path.join(out, "images")
    os.makedirs(folder, exist_ok=True)
    made = []

    def save(name, image, **kwargs):
        path = os.path.join(folder, name)
        image.save(path, **kwargs)
        made.append(name)

    def rgb(width, height, seed):
        return Image.fromarray(natural_image(width, height, seed), "RGB")

    save("photo_500x375.jpg", rgb(500, 375, 1), quality=90)
    save("photo_375x500.jpg", rgb(375, 500, 2), quality=85)
    save("photo_640x480.png", rgb(640, 480, 3))
    save("large_1600x1200.jpg", rgb(1600, 1200, 4), quality=92)
    save("small_100x80.jpg", rgb(100, 80, 5), quality=95)
    save("tiny_1x1.png", rgb(1, 1, 6))
    save("tiny_1x1.jpg", rgb(1, 1, 7))
    save("wide_2000x60.jpg", rgb(2000, 60, 8), quality=90)
    save("tall_50x1200.png", rgb(50, 1200, 9))
    save("exact_232x232.jpg", rgb(232, 232, 10), quality=90)
    save("odd_225x301.jpg", rgb(225, 301, 11), quality=90)
    save("gray_320x240.jpg", rgb(320, 240, 12).convert("L"), quality=90)
    save("gray_300x300.png", rgb(300, 300, 13).convert("L"))
    save("bilevel_100x90.png", rgb(100, 90, 14).convert("1"))

    rgba = rgb(400, 300, 15).convert("RGBA")
    alpha = Image.fromarray(natural_image(400, 300, 16)[..., 0], "L")
    rgba.putalpha(alpha)
    save("rgba_400x300.png", rgba)
    la = rgb(256, 256, 17).convert("LA")
    la.putalpha(alpha.resize((256, 256)))
    save("gray_alpha_256x256.png", la)

    save("palette_333x222.png", rgb(333, 222, 18).convert("P", palette=Image.ADAPTIVE, colors=64))
    palette = rgb(240, 320, 19).convert("P", palette=Image.ADAPTIVE, colors=32)
    save("palette_trns_240x320.png", palette, transparency=3)

    save("cmyk_300x200.jpg", rgb(300, 200, 20).convert("CMYK"), quality=90)

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    save("exif_rot6_400x300.jpg", rgb(400, 300, 21), quality=90, exif=exif.tobytes())
    for orientation in (2, 3, 4, 5, 7, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        save(f"exif_o{orientation}_90x60.jpg", rgb(90, 60, 40 + orientation),
             quality=90, exif=exif.tobytes())
    exif = Image.Exif()
    exif[0x0112] = 6
    save("cmyk_exif6_200x120.jpg", rgb(200, 120, 50).convert("CMYK"), quality=90,
         exif=exif.tobytes())

    gray16 = (natural_image(200, 150, 22)[..., 1].astype(np.uint32) * 260) % 65536
    Image.fromarray(gray16.astype(np.uint16), "I;16").save(
        os.path.join(folder, "gray16_200x150.png"))
    made.append("gray16_200x150.png")
    dark16 = natural_image(180, 160, 23)[..., 2].astype(np.uint16)  # < 256
    Image.fromarray(dark16, "I;16").save(os.path.join(folder, "dark16_180x160.png"))
    made.append("dark16_180x160.png")
    rgb16 = natural_image(210, 170, 24).astype(np.uint16) * 257 + 3
    write_png16_rgb(os.path.join(folder, "rgb16_210x170.png"), rgb16)
    made.append("rgb16_210x170.png")

    save("bitmap_300x200.bmp", rgb(300, 200, 25))
    save("tiff_300x200.tif", rgb(300, 200, 26))
    save("webp_300x200.webp", rgb(300, 200, 27), lossless=True)
    save("webp_lossy_320x240.webp", rgb(320, 240, 28), quality=80)
    return made


# --------------------------------------------------------------------------
# A folder tree for the batch tests

TREE_EXTENSIONS = (".jpg", ".JPEG", ".png", ".PNG", ".webp", ".bmp", ".jpeg", ".tif")
TREE_FOLDERS = ("a", "a/b", "a/b/c", "d", "d/e", "f g", "h")
# What resnet-cli picks up in folders by default (lower case).
SCANNED = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".tif",
           ".tiff", ".webp", ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".gif"}


def make_tree(out):
    """320 small images in nested folders, broken files, awkward names and
    symbolic links; tree.json lists every input in scan order with the
    record it must give (ok or an error kind)."""
    import shutil
    root = os.path.join(out, "tree").encode()
    if os.path.lexists(root):
        shutil.rmtree(root)
    expected = {}

    def write_image(relative, width, height, seed, mode="RGB"):
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        image = Image.fromarray(natural_image(width, height, seed), "RGB")
        if mode != "RGB":
            image = image.convert(mode)
        fmt = {b".jpg": "JPEG", b".jpeg": "JPEG", b".png": "PNG", b".webp": "WEBP",
               b".bmp": "BMP", b".tif": "TIFF", b".gif": "GIF"}[os.path.splitext(relative)[1].lower()]
        with open(path, "wb") as f:
            image.save(f, format=fmt)
        expected[relative] = "ok"

    for i in range(320):
        folder = TREE_FOLDERS[i % len(TREE_FOLDERS)]
        extension = TREE_EXTENSIONS[i % len(TREE_EXTENSIONS)]
        write_image(f"{folder}/img_{i:04d}{extension}".encode(),
                    32 + (i * 37) % 130, 32 + (i * 53) % 130, 3000 + i)

    def write_bytes(relative, data, outcome):
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        expected[relative] = outcome

    write_bytes(b"broken/empty.jpg", b"", "empty_file")
    write_bytes(b"broken/random.jpg", bytes(np.random.default_rng(5).integers(
        0, 256, 4000, dtype=np.uint8)).replace(b"\xff", b"\x00"), "unsupported_format")
    write_bytes(b"broken/page.png", b"<!DOCTYPE html><html><body>Not an image</body></html>\n",
                "unsupported_format")
    buffer = io.BytesIO()
    Image.fromarray(natural_image(300, 200, 77), "RGB").save(buffer, "JPEG", quality=90)
    write_bytes(b"broken/truncated.jpg", buffer.getvalue()[: len(buffer.getvalue()) * 6 // 10],
                "decode")
    buffer = io.BytesIO()
    Image.fromarray(natural_image(64, 48, 78), "RGB").convert("P").save(
        buffer, "GIF", save_all=True,
        append_images=[Image.fromarray(natural_image(64, 48, 79), "RGB").convert("P")])
    write_bytes(b"broken/anim.gif", buffer.getvalue(), "ok")  # its first frame
    os.symlink(b"does-not-exist.jpg", os.path.join(root, b"broken/dangling.jpg"))
    expected[b"broken/dangling.jpg"] = "not_found"

    for k, name in enumerate([b"with\nnewline.jpg", b'quote"s.jpg', b"comma,name.jpg",
                              "\u00fcn\u00efc\u00f8d\u00e9 \u65e5\u672c.jpg".encode(),
                              b"latin1-\xe9.jpg", b"tab\tname.png", b"back\\slash.png",
                              b"UPPER.JPG"]):
        write_image(b"names/" + name, 70, 50, 4000 + k)
    write_image(b"folder.jpg/inner.png", 60, 60, 4100)

    # Not inputs: other extensions, and links to folders (not followed).
    write_bytes(b"notes.txt", b"not an image\n", None)
    os.symlink(b"a", os.path.join(root, b"linked"))
    os.symlink(b"..", os.path.join(root, b"a/b/loop"))
    del expected[b"notes.txt"]

    # Scan order: names sorted as bytes, folders entered where they sort.
    order = []

    def walk(folder):
        for name in sorted(os.listdir(os.path.join(root, folder) if folder else root)):
            relative = folder + b"/" + name if folder else name
            path = os.path.join(root, relative)
            if os.path.islink(path) and os.path.isdir(path):
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                walk(relative)
            elif os.path.splitext(name)[1].lower().decode("latin-1") in SCANNED:
                order.append(relative)

    walk(b"")
    assert sorted(order) == sorted(expected), set(order) ^ set(expected)
    import base64
    tree = {"root": "tree",
            "inputs": [{"path_base64": base64.b64encode(p).decode(),
                        "expect": expected[p]} for p in order]}
    with open(os.path.join(out, "tree.json"), "w") as f:
        json.dump(tree, f, indent=0)
    return len(order)


# --------------------------------------------------------------------------
# A corpus of hostile and unusual inputs


def make_corpus(out, images_folder):
    """Broken, hostile and unusual files; corpus.json gives the record each
    must produce ("ok" or an error kind), and what PIL makes of it."""
    import shutil
    root = os.path.join(out, "corpus")
    if os.path.lexists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    cases = []

    def add(name, data, expect):
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        cases.append({"file": "corpus/" + name, "expect": expect})

    def encoded(image, fmt, **kwargs):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **kwargs)
        return buffer.getvalue()

    rgb = Image.fromarray(natural_image(300, 200, 900), "RGB")
    jpeg = encoded(rgb, "JPEG", quality=90)
    png = encoded(rgb, "PNG")
    add("zero_bytes.jpg", b"", "empty_file")
    add("random_bytes.jpg", bytes(np.random.default_rng(9).integers(
        0, 256, 5000, dtype=np.uint8)).replace(b"\xff", b"\x00"), "unsupported_format")
    add("html_named.png", b"<!doctype html><title>404</title>\n", "unsupported_format")
    add("truncated.jpg", jpeg[: len(jpeg) // 2], "decode")
    # A Huffman table that cannot be: libjpeg stops with an error.
    dht = jpeg.index(b"\xff\xc4")
    broken_table = bytearray(jpeg)
    broken_table[dht + 5: dht + 21] = b"\xff" * 16
    add("corrupt_huffman.jpg", bytes(broken_table), "decode")
    add("header_only.jpg", jpeg[: jpeg.index(b"\xff\xda")], "decode")
    add("truncated.png", png[: len(png) // 2], "decode")
    idat = png.index(b"IDAT")
    bad_crc = bytearray(png)
    bad_crc[idat + 20: idat + 40] = bytes(20)
    add("corrupt_idat.png", bytes(bad_crc), "decode")
    # A valid PNG header claiming 100000 x 100000 pixels, and nothing else.
    add("huge_header.png", b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)), "too_large")
    add("zero_width.png", b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)), "decode")
    huge_jpeg = bytearray(jpeg)
    sof = huge_jpeg.index(b"\xff\xc0")
    huge_jpeg[sof + 5: sof + 9] = struct.pack(">HH", 65000, 65000)
    add("huge_header.jpg", bytes(huge_jpeg), "too_large")
    add("one_pixel.png", encoded(Image.new("RGB", (1, 1), (200, 30, 90)), "PNG"), "ok")
    add("one_by_20000.png", encoded(Image.fromarray(
        natural_image(20000, 1, 901), "RGB"), "PNG"), "ok")
    add("20000_by_one.png", encoded(Image.fromarray(
        natural_image(1, 20000, 902), "RGB"), "PNG"), "ok")
    add("gray16.png", encoded(Image.fromarray(
        (natural_image(120, 90, 903)[..., 0].astype(np.uint16) * 250), "I;16"), "PNG"), "ok")
    add("cmyk.jpg", encoded(rgb.convert("CMYK"), "JPEG", quality=90), "ok")
    add("palette.png", encoded(rgb.convert("P", palette=Image.ADAPTIVE, colors=16), "PNG"), "ok")
    gray_alpha = rgb.convert("LA")
    add("gray_alpha.png", encoded(gray_alpha, "PNG"), "ok")
    add("animation.gif", encoded(rgb.convert("P"), "GIF", save_all=True,
                                 append_images=[rgb.rotate(180).convert("P")]), "ok")
    add("lossless.webp", encoded(rgb, "WEBP", lossless=True), "ok")
    add("image.tiff", encoded(rgb, "TIFF"), "ok")
    add("image.bmp", encoded(rgb, "BMP"), "ok")
    add("truncated.webp", encoded(rgb, "WEBP", lossless=True)[:300], "decode")
    add("truncated.bmp", encoded(rgb, "BMP")[:2000], "decode")
    os.makedirs(os.path.join(root, "folder.jpg"))
    add("folder.jpg/inside.png", png, "ok")

    for case in cases:
        path = os.path.join(out, case["file"])
        try:
            with Image.open(path) as image:
                image.convert("RGB").load()
            case["pil"] = "ok"
        except Exception as error:  # what PIL says, for the record
            case["pil"] = type(error).__name__
    with open(os.path.join(out, "corpus.json"), "w") as f:
        json.dump(cases, f, indent=1)
    return len(cases)


# --------------------------------------------------------------------------
# The ResNet family: every torchvision ResNet, ResNeXt and Wide ResNet

# Builder name and the (height, width) of its parity inputs: the crop for
# ResNet18; smaller for the rest, so that the deep ones stay cheap, and not
# square, so that a height/width mix-up shows.
FAMILY = (
    ("resnet18", (224, 224)),
    ("resnet34", (112, 160)),
    ("resnet50", (64, 96)),
    ("resnet101", (64, 96)),
    ("resnet152", (64, 96)),
    ("resnext50_32x4d", (64, 96)),
    ("resnext101_32x8d", (64, 96)),
    ("resnext101_64x4d", (64, 96)),
    ("wide_resnet50_2", (64, 96)),
    ("wide_resnet101_2", (64, 96)),
)
FAMILY_INPUTS = 9  # batch 1 and three batches of 3


def round_to_half(model):
    """Rounds the convolutions' weights to the nearest float16, so that the
    network half_state_dict saves is exactly this one."""
    with torch.no_grad():
        for tensor in model.parameters():
            if tensor.dim() == 4:
                tensor.copy_(tensor.half().float())


def half_state_dict(model):
    """The state_dict with the convolutions' weights (all but a few MB of a
    ResNet) stored as float16: the family's checkpoints are half the size
    (1.1 GB instead of 2.2 GB for the ten) and load as the float32 network
    that round_to_half left (resnet-cli reads float16 as torch.load(...)
    .float() does; BatchNorm and fc stay float32, as calibrated). The
    float32 format alone is tested on the ResNet50 fixtures."""
    return type(model.state_dict())(
        (k, v.half() if v.dim() == 4 else v)
        for k, v in model.state_dict().items())


def photo_batch(height, width, count, seed):
    """Photo-like images as normalized tensors, [count, 3, height, width]."""
    return torch.stack([
        F.normalize(F.to_tensor(Image.fromarray(
            natural_image(width, height, seed + i), "RGB")),
            [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        for i in range(count)])


def family_weights_meta():
    """torchvision's meta for every weights entry of the family, by
    "<enum>.<entry>", and each enum's DEFAULT."""
    meta, defaults = {}, {}
    for builder, _ in FAMILY:
        enum = tv_resnet.__dict__[
            next(n for n in tv_resnet.__all__
                 if n.endswith("_Weights") and n[:-8].lower() == builder)]
        defaults[enum.__name__] = enum.DEFAULT.name
        for weights in enum:
            info = weights.meta
            transform = weights.transforms()
            meta[enum.__name__ + "." + weights.name] = {
                "arch": builder,
                "url": weights.url,
                "num_params": info["num_params"],
                "acc@1": info["_metrics"]["ImageNet-1K"]["acc@1"],
                "acc@5": info["_metrics"]["ImageNet-1K"]["acc@5"],
                "recipe": info["recipe"],
                "resize_size": transform.resize_size[0],
                "crop_size": transform.crop_size[0],
                "interpolation": transform.interpolation.value,
                "mean": transform.mean,
                "std": transform.std,
                "imagenet_categories": info["categories"]
                == ResNet50_Weights.IMAGENET1K_V2.meta["categories"],
            }
    return meta, defaults


# Entries whose transforms the CLI tests check end to end: the network of
# that architecture, fed the first images through weights.transforms().
FAMILY_BY_WEIGHTS = ("ResNet18_Weights.IMAGENET1K_V1",
                     "ResNet101_Weights.IMAGENET1K_V2")
FAMILY_IMAGES = 3


def logits_through_transforms(out, model, enum_entry, images):
    """Logits of `model` for `images` through the entry's own transforms."""
    enum_name, entry = enum_entry.split(".")
    weights = tv_resnet.__dict__[enum_name][entry]
    transform = weights.transforms()
    batch = torch.stack([
        transform(Image.open(os.path.join(out, "images", name)).convert("RGB"))
        for name in images])
    with torch.no_grad():
        return model(batch).numpy()


def make_family(out, images):
    """For each of the ten architectures: a calibrated network's state_dict,
    inputs, and torchvision's logits and pooled features for them; a
    torch.hub cache holding each under its registry names; and checkpoints
    that are not one of the ten. Returns the manifest's "family" entry."""
    folder = os.path.join(out, "family")
    os.makedirs(folder, exist_ok=True)
    archs = {}
    by_weights = {}
    for index, (builder, (height, width)) in enumerate(FAMILY):
        torch.manual_seed(SEED + 10 + index)
        model = getattr(torchvision.models, builder)()
        calibrate_batch_norms(model, photo_batch(height, width, 8, 5000 + 100 * index))
        inputs = photo_batch(height, width, FAMILY_INPUTS, 6000 + 100 * index)
        with torch.no_grad():
            centre_fc(model, pooled_features(model, inputs))
            round_to_half(model)
            features = pooled_features(model, inputs)
            logits = model.fc(features)
        files = {key: os.path.join("family", builder + suffix) for key, suffix in
                 (("checkpoint", ".pth"), ("inputs", ".inputs.npy"),
                  ("logits", ".logits.npy"), ("features", ".features.npy"))}
        torch.save(half_state_dict(model), os.path.join(out, files["checkpoint"]))
        np.save(os.path.join(out, files["inputs"]), inputs.numpy())
        np.save(os.path.join(out, files["logits"]), logits.numpy())
        np.save(os.path.join(out, files["features"]), features[:2].numpy())
        for enum_entry in FAMILY_BY_WEIGHTS:
            if enum_entry.split("_Weights")[0].lower() != builder:
                continue
            model.eval()
            name = os.path.join("family", enum_entry + ".logits.npy")
            np.save(os.path.join(out, name), logits_through_transforms(
                out, model, enum_entry, images[:FAMILY_IMAGES]))
            by_weights[enum_entry] = {
                "logits": name,
                "images": ["images/" + n for n in images[:FAMILY_IMAGES]]}
        archs[builder] = dict(files, height=height, width=width,
                              feature_size=features.shape[1],
                              num_params=sum(p.numel() for p in model.parameters()),
                              max_abs_logit=float(logits.abs().max()))
        del model

    meta, defaults = family_weights_meta()
    hub = os.path.join(folder, "torch_home", "hub", "checkpoints")
    os.makedirs(hub, exist_ok=True)
    for entry in meta.values():
        link = os.path.join(hub, os.path.basename(entry["url"]))
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.abspath(os.path.join(out, archs[entry["arch"]]["checkpoint"])),
                   link)

    # Not one of the ten: a VGG-like classifier, and a ResNet of torchvision's
    # class with block counts and groups none of the ten has.
    others = {}
    torch.manual_seed(SEED + 30)
    vgg_like = collections.OrderedDict()
    for key, shape in (("features.0", (16, 3, 3, 3)), ("features.3", (32, 16, 3, 3)),
                       ("classifier.0", (64, 32 * 7 * 7)), ("classifier.3", (10, 64))):
        vgg_like[key + ".weight"] = torch.randn(shape) * 0.1
        vgg_like[key + ".bias"] = torch.zeros(shape[0])
    others["vgg_like"] = os.path.join("family", "vgg_like.pth")
    torch.save(vgg_like, os.path.join(out, others["vgg_like"]))
    odd = tv_resnet.ResNet(Bottleneck, [1, 2, 1, 1], groups=16, width_per_group=4,
                           num_classes=10)
    others["odd_resnext"] = os.path.join("family", "odd_resnext.pth")
    torch.save(odd.state_dict(), os.path.join(out, others["odd_resnext"]))
    return {"archs": archs, "weights": meta, "defaults": defaults,
            "torch_home": os.path.join("family", "torch_home"),
            "by_weights": by_weights,
            "checkpoints": others}


# --------------------------------------------------------------------------
# References


def pil_crop(image, resize, crop, interpolation):
    """The uint8 crop that ImageClassification makes before pil_to_tensor."""
    resized = F.resize(image, [resize], interpolation=interpolation)
    return F.center_crop(resized, [crop])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    with locked(out):
        stamp = os.path.join(out, "manifest.json")
        if up_to_date(stamp, script_hash()):
            print("fixtures are up to date in", out)
            return 0
        make(out, stamp)
    prune_stale(out, "manifest.json")
    return 0


def make(out, stamp):
    """Makes every fixture into `out`; the stamp, written last, says it is
    complete."""
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)

    model = calibrated_resnet50()
    checkpoints = make_checkpoints(out, model)
    images = make_images(out)
    tree_inputs = make_tree(out)
    corpus_cases = make_corpus(out, os.path.join(out, "images"))
    started = time.monotonic()
    family = make_family(out, images)
    family_seconds = time.monotonic() - started
    ref = os.path.join(out, "ref")

    variants = {
        "v1": (ResNet50_Weights.IMAGENET1K_V1, None),
        "v2": (ResNet50_Weights.IMAGENET1K_V2, None),
    }
    entries = []
    tensors = {name: [] for name in variants}
    for name in images:
        path = os.path.join(out, "images", name)
        image = Image.open(path).convert("RGB")
        entry = {"file": "images/" + name, "mode": Image.open(path).mode,
                 "size": list(image.size)}
        for variant, (weights, _) in variants.items():
            transform = weights.transforms()
            tensor = transform(image)
            crop = pil_crop(image, transform.resize_size[0], transform.crop_size[0],
                            transform.interpolation)
            # The crop must be what the tensor was made from.
            check = F.normalize(F.convert_image_dtype(F.pil_to_tensor(crop), torch.float),
                                transform.mean, transform.std)
            assert torch.equal(check, tensor), name
            stem = f"{name}.{variant}"
            np.save(os.path.join(ref, stem + ".crop.npy"), np.asarray(crop))
            np.save(os.path.join(ref, stem + ".tensor.npy"), tensor.numpy())
            tensors[variant].append(tensor)
        # Other filters, V2's sizes.
        for interpolation in (InterpolationMode.BICUBIC, InterpolationMode.NEAREST):
            crop = pil_crop(image, 232, 224, interpolation)
            np.save(os.path.join(ref, f"{name}.{interpolation.value}.crop.npy"),
                    np.asarray(crop))
        # Crops larger than the resized image: center_crop pads with zeros.
        for resize, crop_size in ((200, 224), (101, 150)):
            crop = pil_crop(image, resize, crop_size, InterpolationMode.BILINEAR)
            np.save(os.path.join(ref, f"{name}.r{resize}c{crop_size}.crop.npy"),
                    np.asarray(crop))
        # PIL's exif_transpose, for --exif apply.
        transposed = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        crop = pil_crop(transposed, 232, 224, InterpolationMode.BILINEAR)
        np.save(os.path.join(ref, f"{name}.exif.crop.npy"), np.asarray(crop))
        entries.append(entry)

    with torch.no_grad():
        for variant in variants:
            logits = model(torch.stack(tensors[variant])).numpy()
            for entry, row in zip(entries, logits):
                np.save(os.path.join(ref, os.path.basename(entry["file"])
                                     + f".{variant}.logits.npy"), row)
        features = pooled_features(model, torch.stack(tensors["v2"][:2])).numpy()
        for entry, row in zip(entries[:2], features):
            np.save(os.path.join(ref, os.path.basename(entry["file"])
                                 + ".v2.features.npy"), row)

        # The 10-class head and the half-precision file, through Python.
        tuned = resnet50(num_classes=10)
        tuned.load_state_dict(torch.load(os.path.join(out, checkpoints["ten_classes"])))
        tuned.eval()
        np.save(os.path.join(ref, "ten_classes.logits.npy"),
                tuned(tensors["v2"][0][None])[0].numpy())
        halved = resnet50()
        halved.load_state_dict({k: v.float() if v.is_floating_point() else v
                                for k, v in torch.load(os.path.join(out, checkpoints["half"])).items()})
        halved.eval()
        np.save(os.path.join(ref, "half.logits.npy"),
                halved(tensors["v2"][0][None])[0].numpy())

    meta = {}
    for weights in ResNet50_Weights:
        info = dict(weights.meta)
        transform = weights.transforms()
        meta[weights.name] = {
            "url": weights.url,
            "num_params": info["num_params"],
            "acc@1": info["_metrics"]["ImageNet-1K"]["acc@1"],
            "acc@5": info["_metrics"]["ImageNet-1K"]["acc@5"],
            "recipe": info["recipe"],
            "categories": info["categories"],
            "resize_size": transform.resize_size[0],
            "crop_size": transform.crop_size[0],
            "mean": transform.mean,
            "std": transform.std,
            "interpolation": transform.interpolation.value,
        }
    manifest = {
        **made_with(script_hash()),
        "checkpoints": checkpoints,
        "images": entries,
        "weights": meta,
        "default_weights": ResNet50_Weights.DEFAULT.name,
        "resnet50_num_params": sum(p.numel() for p in model.parameters()),
        "family": family,
    }
    with open(stamp + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(stamp + ".tmp", stamp)
    print(f"made {len(entries)} images, {tree_inputs} tree inputs, "
          f"{len(checkpoints)} checkpoints and the family's {len(FAMILY)} "
          f"networks ({family_seconds:.1f} s) in {out}")


if __name__ == "__main__":
    sys.exit(main())
