#!/usr/bin/python3
"""Loads a model.pth that resnet-cli quantize wrote into torchvision's
quantizable network, as a user would: the network built, fused, prepared
with the onednn qconfig and converted (its observers never run), then
load_state_dict(strict=True). Compares every entry with a reference
state_dict (PyTorch's own conversion of the same network on the same
calibration batches) and prints, as JSON, how far apart they are.

    check_quantized_model.py MODEL_PTH REFERENCE_PTH --arch resnet50

Exit 0 with the report; any failure to load raises (exit 1).
"""
import argparse
import json
import sys
import warnings

import torch
from torchvision.models import quantization as tvq


def quantizable(arch):
    if arch == "resnext50_32x4d":
        return tvq.QuantizableResNet(tvq.resnet.QuantizableBottleneck, [3, 4, 6, 3],
                                     groups=32, width_per_group=4)
    return getattr(tvq, arch)(weights=None, quantize=False)


def converted(arch):
    # Its observers never run; load_state_dict brings the parameters.
    warnings.filterwarnings("ignore", message="must run observer")
    torch.backends.quantized.engine = "onednn"
    model = quantizable(arch).eval()
    model.fuse_model(is_qat=False)
    model.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
    torch.ao.quantization.prepare(model, inplace=True)
    torch.ao.quantization.convert(model, inplace=True)
    return model


def flat(state_dict):
    """{key: tensor}, the packed (weight, bias) as two keys."""
    out = {}
    for key, value in state_dict.items():
        if isinstance(value, tuple):
            out[key + ".0"], out[key + ".1"] = value
        elif isinstance(value, torch.Tensor):
            out[key] = value
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("reference")
    parser.add_argument("--arch", required=True)
    args = parser.parse_args()
    model = converted(args.arch)
    model.load_state_dict(torch.load(args.model), strict=True)
    mine = flat(model.state_dict())
    reference = flat(torch.load(args.reference))
    report = {"keys": len(mine), "same_keys": sorted(mine) == sorted(reference),
              "differing": [], "max_scale_rel": 0.0}
    for key, ref in reference.items():
        got = mine[key]
        if ref.is_quantized:
            same = (torch.equal(got.int_repr(), ref.int_repr())
                    and torch.equal(got.q_per_channel_scales(), ref.q_per_channel_scales())
                    and torch.equal(got.q_per_channel_zero_points(), ref.q_per_channel_zero_points()))
        else:
            same = torch.equal(got, ref)
            if key.endswith("scale"):
                rel = float(((got - ref).abs() / ref.abs()).max())
                report["max_scale_rel"] = max(report["max_scale_rel"], rel)
        if not same:
            report["differing"].append(key)
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
