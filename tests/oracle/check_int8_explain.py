#!/usr/bin/python3
"""classify --explain --precision int8 against PyTorch (issue 23 with 27).

For each int8 fixture network named, torchvision's quantizable network is
built as make_int8_fixture.py builds it, the fixture's model.pth loaded
strict, and for every test image its class activation map computed from
PyTorch's own quantized forward pass: layer4's quint8 output dequantized, fc's
qint8 weight dequantized, sum over channels of weight[k] * map for the top
class k, normalised as pytorch-grad-cam normalises (negatives to 0, minus the
minimum, over the maximum + 1e-7). resnet-cli's grid must give the same class
and be within 1e-5 of it in every cell.

Usage: check_int8_explain.py --binary resnet-cli --fixtures DIR
                             --int8-fixtures DIR [NETWORK ...]
"""
import argparse
import json
import os
import subprocess
import sys
import warnings

import torch
from PIL import Image
from torchvision.models import get_weight
from torchvision.models import quantization as tvq

TOLERANCE = 1e-5


def quantized_network(info, path):
    torch.backends.quantized.engine = "onednn"
    model = getattr(tvq, info["arch"])(weights=None, quantize=False).eval()
    model.fuse_model(is_qat=False)
    model.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
    torch.ao.quantization.prepare(model, inplace=True)
    torch.ao.quantization.convert(model, inplace=True)
    model.load_state_dict(torch.load(path), strict=True)
    return model


def python_maps(model, transform, images):
    maps = {}
    model.layer4.register_forward_hook(
        lambda module, inputs, output: maps.__setitem__("a", output.dequantize()))
    weight = model.fc.weight().dequantize()
    result = []
    for image in images:
        with Image.open(image) as pil:
            x = transform(pil.convert("RGB")).unsqueeze(0)
        with torch.no_grad():
            k = int(model(x).argmax())
        cam = torch.einsum("c,chw->hw", weight[k], maps["a"][0]).clamp(min=0)
        cam = cam - cam.min()
        result.append((k, cam / (cam.max() + 1e-7)))
    return result


def main():
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--int8-fixtures", required=True)
    parser.add_argument("networks", nargs="*", default=["resnet18_int8", "resnet50_int8"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    failures = 0
    for name in args.networks:
        with open(os.path.join(args.int8_fixtures, name + ".json")) as f:
            info = json.load(f)
        checkpoint = os.path.join(args.int8_fixtures, info["checkpoint"])
        images = [os.path.join(args.fixtures, image) for image in info["images"]]
        transform = get_weight(info["weights"]).transforms()
        expected = python_maps(quantized_network(info, checkpoint), transform, images)
        run = subprocess.run(
            [args.binary, "classify", "--weights-file", checkpoint, "--arch", info["arch"],
             "--weights", info["weights"], "--precision", "int8", "--explain",
             "--format", "json"] + images, capture_output=True, text=True)
        if run.returncode != 0:
            print("%s: exit %d: %s" % (name, run.returncode, run.stderr.strip()))
            failures += 1
            continue
        records = json.loads(run.stdout)
        worst = 0.0
        for image, record, (k, cam) in zip(images, records, expected):
            got = record["explain"]["maps"][0]
            grid = torch.tensor(got["grid"], dtype=torch.float32)
            if got["index"] != k or grid.shape != cam.shape:
                print("%s %s: class %d grid %s, Python's %d %s"
                      % (name, image, got["index"], tuple(grid.shape), k, tuple(cam.shape)))
                failures += 1
                continue
            worst = max(worst, float((grid - cam).abs().max()))
        print("%s: %d images, largest cell difference %.3g" % (name, len(images), worst))
        if worst > TOLERANCE:
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
