#!/usr/bin/python3
"""Makes the int8 fixtures with PyTorch's own post-training quantization.

Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14), after
make_fixtures.py: it starts from that fixture's float networks and images.

    make_int8_fixture.py OUT --fixtures FIXTURE_DIR

For each network below, torchvision's quantizable ResNet
(torchvision.models.quantization) is built from the float fixture's
state_dict, fused, prepared with a qconfig, calibrated on the fixture's test
images (in name order, in batches of CALIBRATION_BATCH, through the weights
entry's transforms: what `resnet-cli quantize --calibrate` sees) and
converted with torch.backends.quantized.engine = "onednn". Writes into OUT:
  <name>.pth          torch.save(model.state_dict()) of the converted network
  <name>.logits.npy   its logits for every test image, [images, classes]
  <name>.json         the observers' scales and zero points, the fc's scale,
                      the transforms, the calibration images and batch size
  torch_home/         a torch.hub cache holding the registry-format files
                      (torchvision's fbgemm qconfig) under the quantized
                      entries' file names
  hostile/            quantized checkpoints resnet-cli must refuse
  manifest.json       what is where, and torchvision's quantized weights meta

Skips the work when OUT already holds fixtures made by this same script.
"""

import argparse
import collections
import copy
import json
import os
import sys
import zipfile

import numpy as np
import torch
import torchvision
from PIL import Image
from torch.ao.quantization import QConfig, get_default_qconfig
from torch.ao.quantization.observer import ObserverBase
from torchvision.models import quantization as tvq
from torchvision.models import resnet as tv_resnet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import script_hash, up_to_date  # noqa: E402

CALIBRATION_BATCH = 8

# name: (builder of the float network, its fixture checkpoint, the weights
# entry whose transforms it is calibrated and run through, qconfig kind).
NETWORKS = {
    "resnet50_int8": ("resnet50", "checkpoints/resnet50_fixture.pth",
                      "ResNet50_Weights.IMAGENET1K_V2", "onednn"),
    "resnet18_int8": ("resnet18", "family/resnet18.pth",
                      "ResNet18_Weights.IMAGENET1K_V1", "onednn"),
    # Grouped 3x3 convolutions, as the ResNeXt entries have.
    "resnext50_int8": ("resnext50_32x4d", "family/resnext50_32x4d.pth",
                       "ResNeXt50_32X4D_Weights.IMAGENET1K_V2", "onednn"),
    # The registry's format: torchvision's quantize_model(model, "fbgemm")
    # qconfig (MinMaxObserver activations in 0..127, per-channel weights),
    # converted on the onednn engine since Debian's PyTorch has no fbgemm.
    "resnet50_fbgemm": ("resnet50", "checkpoints/resnet50_fixture.pth",
                        "ResNet50_Weights.IMAGENET1K_V2", "fbgemm"),
    "resnet18_fbgemm": ("resnet18", "family/resnet18.pth",
                        "ResNet18_Weights.IMAGENET1K_V1", "fbgemm"),
}

# Registry entries whose file the hub cache holds, and the network saved
# under that name.
HUB_FILES = {
    "ResNet18_QuantizedWeights.IMAGENET1K_FBGEMM_V1": "resnet18_fbgemm",
    "ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V1": "resnet50_fbgemm",
    "ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V2": "resnet50_fbgemm",
}


def qconfig_for(kind):
    if kind == "onednn":
        return get_default_qconfig("onednn")
    # torchvision/models/quantization/utils.py, quantize_model's fbgemm case.
    return QConfig(activation=torch.ao.quantization.default_observer,
                   weight=torch.ao.quantization.default_per_channel_weight_observer)


def quantizable(builder):
    """torchvision's quantizable network of the float builder's shape."""
    if builder == "resnext50_32x4d":
        return tvq.QuantizableResNet(tvq.resnet.QuantizableBottleneck, [3, 4, 6, 3],
                                     groups=32, width_per_group=4)
    model = getattr(tvq, builder)(weights=None, quantize=False)
    return model


def weights_entry(qualified):
    enum_name, entry = qualified.split(".")
    return tv_resnet.__dict__[enum_name][entry]


def image_batch(folder, names, transform):
    return torch.stack([transform(Image.open(os.path.join(folder, n)).convert("RGB"))
                        for n in names])


def observer_qparams(model):
    """{module: [scale, zero_point]} of every activation observer."""
    out = {}
    for name, module in model.named_modules():
        observer = getattr(module, "activation_post_process", None)
        if isinstance(observer, ObserverBase):
            scale, zero_point = observer.calculate_qparams()
            out[name] = [float(scale.reshape(-1)[0]), int(zero_point.reshape(-1)[0])]
    return out


def quantize(fixtures, builder, checkpoint, entry, kind, images):
    torch.backends.quantized.engine = "onednn"
    model = quantizable(builder)
    model.load_state_dict(torch.load(os.path.join(fixtures, checkpoint)))
    model.eval()
    model.fuse_model(is_qat=False)
    model.qconfig = qconfig_for(kind)
    torch.ao.quantization.prepare(model, inplace=True)
    transform = weights_entry(entry).transforms()
    folder = os.path.join(fixtures, "images")
    with torch.no_grad():
        for start in range(0, len(images), CALIBRATION_BATCH):
            model(image_batch(folder, images[start:start + CALIBRATION_BATCH], transform))
    observers = observer_qparams(model)
    torch.ao.quantization.convert(model, inplace=True)
    with torch.no_grad():
        logits = model(image_batch(folder, images, transform))
    return model, observers, logits, transform


def save_network(out, fixtures, name, images):
    builder, checkpoint, entry, kind = NETWORKS[name]
    model, observers, logits, transform = quantize(fixtures, builder, checkpoint,
                                                   entry, kind, images)
    torch.save(model.state_dict(), os.path.join(out, name + ".pth"))
    np.save(os.path.join(out, name + ".logits.npy"), logits.numpy())
    info = {
        "arch": builder,
        "qconfig": kind,
        "weights": entry,
        "resize_size": transform.resize_size[0],
        "crop_size": transform.crop_size[0],
        "checkpoint": name + ".pth",
        "logits": name + ".logits.npy",
        "fc_scale": float(model.fc.scale),
        "fc_zero_point": int(model.fc.zero_point),
        "observers": observers,
        "images": ["images/" + n for n in images],
        "calibration_batch": CALIBRATION_BATCH,
    }
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(info, f, indent=1)
    return model.state_dict()


# --------------------------------------------------------------------------
# Quantized checkpoints resnet-cli must refuse


def save_state_dict(path, state_dict):
    torch.save(state_dict, path)


def replace_in_pickle(path, out_path, old, new, count=1):
    """The torch.save zip at `path` with bytes `old` of its data.pkl replaced
    by `new` (same length, so no offsets move)."""
    assert len(old) == len(new)
    with zipfile.ZipFile(path) as source:
        items = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_STORED) as target:
        for info, data in items:
            if info.filename.endswith("data.pkl"):
                assert data.count(old) >= count, (old, data.count(old))
                data = data.replace(old, new, count)
            target.writestr(info, data)


def make_hostile(out, state_dict):
    """Files that are quantized state_dicts gone wrong: each is refused with
    one line (exit 3). Returns {case: file}."""
    folder = os.path.join(out, "hostile")
    os.makedirs(folder, exist_ok=True)
    cases = {}

    def path(case):
        cases[case] = os.path.join("hostile", case + ".pth")
        return os.path.join(out, cases[case])

    # The pickle-level cases need no whole network: conv1 and the packed fc.
    base = path("small")
    keys = [k for k in state_dict if k.startswith("conv1.") or k.startswith("fc.")]
    save_state_dict(base, collections.OrderedDict((k, state_dict[k]) for k in keys))
    del cases["small"]

    # Weights with a zero point: asymmetric weights, which oneDNN's integer
    # convolution cannot run (PyTorch's onednn engine refuses them too).
    asymmetric = copy.copy(state_dict)
    w = state_dict["layer1.0.conv1.weight"]
    asymmetric["layer1.0.conv1.weight"] = torch.quantize_per_tensor(
        w.dequantize(), float(w.q_per_channel_scales().max()) * 1.1, 3, torch.qint8)
    save_state_dict(path("asymmetric_weights"), asymmetric)

    # A convolution weight of unsigned bytes.
    unsigned = copy.copy(state_dict)
    unsigned["layer1.0.conv1.weight"] = torch.quantize_per_tensor(
        w.dequantize(), float(w.q_per_channel_scales().max()), 128, torch.quint8)
    save_state_dict(path("unsigned_weights"), unsigned)

    # Per-channel float qparams (embedding-style quantization), which
    # torch.save writes as per_channel_affine with float zero points.
    float_qparams = copy.copy(state_dict)
    float_qparams["layer1.0.conv1.weight"] = torch.quantize_per_channel(
        w.dequantize(), w.q_per_channel_scales().float(),
        torch.zeros(w.shape[0]), 0, torch.quint8)
    save_state_dict(path("float_qparams"), float_qparams)

    # A dynamic (float16) linear layer's dtype.
    fp16 = copy.copy(state_dict)
    fp16["fc._packed_params.dtype"] = torch.float16
    save_state_dict(path("float16_linear"), fp16)

    # The rebuilder's arguments tampered with, byte for byte.
    replace_in_pickle(base, path("unknown_qscheme"), b"torch\nper_channel_affine\n",
                      b"torch\nper_channel_affinX\n")
    replace_in_pickle(base, path("code_in_qparams"), b"torch\nper_channel_affine\n",
                      b"os\nsystem\n" + b" " * 14 + b"\n")
    replace_in_pickle(base, path("quantized_float_storage"), b"torch\nQInt8Storage\n",
                      b"torch\nFloatStorage\n")
    # A per-channel axis past the tensor's dimensions: BININT1 0 before the
    # qparams tuple's end becomes 7.
    with zipfile.ZipFile(base) as source:
        pickled = source.read("small/data.pkl")
    marker = b"K\x00t"  # BININT1 0 (axis), TUPLE
    assert marker in pickled
    replace_in_pickle(base, path("axis_out_of_range"), marker, b"K\x07t")

    # A convolution of another shape than the architecture's.
    short = copy.copy(state_dict)
    short_w = torch._make_per_channel_quantized_tensor(
        w.int_repr()[:8], w.q_per_channel_scales()[:8], w.q_per_channel_zero_points()[:8], 0)
    short["layer1.0.conv1.weight"] = short_w
    save_state_dict(path("wrong_shape"), short)

    # A scale of zero and a zero point out of quint8's range.
    zero_scale = copy.copy(state_dict)
    zero_scale["layer1.0.conv1.scale"] = torch.tensor(0.0)
    save_state_dict(path("zero_scale"), zero_scale)
    bad_zero_point = copy.copy(state_dict)
    bad_zero_point["layer1.0.conv1.zero_point"] = torch.tensor(300)
    save_state_dict(path("zero_point_out_of_range"), bad_zero_point)

    # A key missing, as a truncated conversion would leave it.
    missing = copy.copy(state_dict)
    del missing["layer2.0.add_relu.scale"]
    save_state_dict(path("missing_key"), missing)

    # A bare quantized tensor pickled with a code-running reduce beside it.
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + os.path.join(out, "PWNED"),))

    evil = collections.OrderedDict((k, state_dict[k]) for k in keys)
    evil["fc._packed_params._packed_params"] = (state_dict["fc._packed_params._packed_params"][0],
                                                Evil())
    save_state_dict(path("evil_packed_params"), evil)
    cases["evil_marker"] = "PWNED"
    return cases


def quantized_meta():
    """torchvision's quantized weights meta, by "<enum>.<entry>"."""
    meta = {}
    for enum_name in ("ResNet18_QuantizedWeights", "ResNet50_QuantizedWeights",
                      "ResNeXt101_32X8D_QuantizedWeights", "ResNeXt101_64X4D_QuantizedWeights"):
        enum = tvq.__dict__[enum_name]
        for weights in enum:
            info = weights.meta
            transform = weights.transforms()
            meta[enum_name + "." + weights.name] = {
                "url": weights.url,
                "num_params": info["num_params"],
                "backend": info["backend"],
                "unquantized": type(info["unquantized"]).__name__ + "." + info["unquantized"].name,
                "acc@1": info["_metrics"]["ImageNet-1K"]["acc@1"],
                "acc@5": info["_metrics"]["ImageNet-1K"]["acc@5"],
                "recipe": info["recipe"],
                "resize_size": transform.resize_size[0],
                "crop_size": transform.crop_size[0],
                "default": enum.DEFAULT == weights,
            }
    return meta


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--fixtures", required=True)
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    fixtures = os.path.abspath(args.fixtures)
    stamp = os.path.join(out, "manifest.json")
    digest = script_hash(__file__, os.path.join(os.path.dirname(__file__), "make_fixtures.py"))
    if up_to_date(stamp, digest):
        print("int8 fixtures are up to date in", out)
        return 0
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    torch.manual_seed(0)

    images = sorted(os.listdir(os.path.join(fixtures, "images")))
    networks = {}
    state_dicts = {}
    for name in NETWORKS:
        state_dicts[name] = save_network(out, fixtures, name, images)
        networks[name] = name + ".json"

    hub = os.path.join(out, "torch_home", "hub", "checkpoints")
    os.makedirs(hub, exist_ok=True)
    meta = quantized_meta()
    for entry, name in HUB_FILES.items():
        link = os.path.join(hub, os.path.basename(meta[entry]["url"]))
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.join(out, name + ".pth"), link)

    hostile = make_hostile(out, state_dicts["resnet18_int8"])
    # The layout of PyTorch 1.3's quantized Linear (before
    # LinearPackedParams), which older published files may have: fc.weight
    # and fc.bias beside fc.scale and fc.zero_point.
    legacy = collections.OrderedDict()
    for key, value in state_dicts["resnet18_int8"].items():
        if key == "fc._packed_params._packed_params":
            legacy["fc.weight"], legacy["fc.bias"] = value
        elif key != "fc._packed_params.dtype":
            legacy[key] = value
    torch.save(legacy, os.path.join(out, "resnet18_legacy_fc.pth"))
    manifest = {
        "script_hash": digest,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "networks": networks,
        "torch_home": "torch_home",
        "hub_files": HUB_FILES,
        "weights": meta,
        "hostile": hostile,
        # The float networks the int8 ones were made from, relative to the
        # main fixture.
        "float_checkpoints": {name: spec[1] for name, spec in NETWORKS.items()},
    }
    with open(stamp, "w") as f:
        json.dump(manifest, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
