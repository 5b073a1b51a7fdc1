#!/usr/bin/python3
"""The PyTorch side of resnet-cli train's parity tests (tests/test_train.cpp).

  make OUT FIXTURE   writes OUT/data (3 class folders) and OUT/val, small PNGs
  fit OUT FIXTURE PART EPOCHS LR WD LS BS SEED [DEVICE]
                     trains as a PyTorch script does (torchvision's ImageFolder,
                     the weights' eval transforms, DataLoader without shuffle,
                     SGD momentum 0.9, CosineAnnealingLR stepped per epoch,
                     CrossEntropyLoss(label_smoothing)), from FIXTURE with a
                     new fc made after torch.manual_seed(SEED), on DEVICE
                     (cpu, or cuda with TF32 off); saves OUT/expected-PART.pth
  check MODEL_DIR EXPECTED FIXTURE VAL
                     loads MODEL_DIR/model.pth strict into torchvision and prints
                     JSON: relative differences to EXPECTED per part, whether
                     the untrained trunk equals FIXTURE bit for bit, and the
                     logits of the VAL images
  resume OUT MODEL_DIR PART OPTIMIZER EPOCHS BS [fresh]
                     continues the run in MODEL_DIR as a PyTorch script
                     continues one: model.pth into torchvision's resnet50,
                     optimizer.pt into torch.optim.SGD or AdamW with
                     optimizer.load_state_dict(torch.load(...)) (its lr
                     included), EPOCHS more epochs over OUT/data as fit trains;
                     saves OUT/resumed-OPTIMIZER.pth (resumed-fresh-... with
                     `fresh`: a new optimizer of the same hyper-parameters
                     instead, what a resume without the state would do);
                     prints JSON: the loaded state's type and keys
  load MODEL_DIR     loads MODEL_DIR/model.pth strict into torchvision's
                     architecture that model.json names; prints JSON (and
                     whether every floating-point entry is float32)
"""

import collections
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.models import ResNet50_Weights, resnet50

CLASSES = ["ants", "bees", "wasps"]


def make(out):
    rng = np.random.default_rng(7)
    for split, count in (("data", 5), ("val", 2)):
        for label, name in enumerate(CLASSES):
            folder = os.path.join(out, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                h, w = int(rng.integers(40, 72)), int(rng.integers(40, 72))
                base = np.zeros((h, w, 3))
                base[..., label] = 160
                noise = rng.normal(0, 50, (h // 8 + 1, w // 8 + 1, 3))
                noise = np.kron(noise, np.ones((8, 8, 1)))[:h, :w]
                pixels = np.clip(base + noise + 40, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(os.path.join(folder, f"{i:03d}.png"))


def base_model(fixture, classes, seed):
    model = resnet50()
    model.load_state_dict(torch.load(fixture))
    torch.manual_seed(seed)
    model.fc = torch.nn.Linear(2048, classes)
    return model


def fit(out, fixture, part, epochs, lr, wd, ls, bs, seed, device="cpu"):
    torch.set_num_threads(2)
    if device != "cpu":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    data = ImageFolder(os.path.join(out, "data"),
                       transform=ResNet50_Weights.IMAGENET1K_V2.transforms())
    model = base_model(fixture, len(data.classes), seed).to(device)
    trained = [model.fc] if part == "fc" else [model.layer4, model.fc]
    for p in model.parameters():
        p.requires_grad = False
    for module in trained:
        for p in module.parameters():
            p.requires_grad = True
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                                lr=lr, momentum=0.9, weight_decay=wd)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=ls)
    loader = torch.utils.data.DataLoader(data, batch_size=bs, shuffle=False)
    for _ in range(epochs):
        model.eval()
        if part == "layer4":
            model.layer4.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        schedule.step()
    state = collections.OrderedDict(
        (k, v.cpu()) for k, v in model.state_dict().items())
    torch.save(state, os.path.join(out, f"expected-{part}.pth"))


def set_trained(model, part):
    """requires_grad on the trained part only; returns its parameters in
    model.parameters() order, as the optimizer takes them."""
    trained = [model.fc] if part == "fc" else [model.layer4, model.fc]
    for p in model.parameters():
        p.requires_grad = False
    for module in trained:
        for p in module.parameters():
            p.requires_grad = True
    return [p for p in model.parameters() if p.requires_grad]


def resume(out, model_dir, part, kind, epochs, bs, fresh):
    torch.set_num_threads(2)
    data = ImageFolder(os.path.join(out, "data"),
                       transform=ResNet50_Weights.IMAGENET1K_V2.transforms())
    model = resnet50(num_classes=len(data.classes))
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pth")))
    params = set_trained(model, part)
    state = torch.load(os.path.join(model_dir, "optimizer.pt"))
    group = {k: v for k, v in state["param_groups"][0].items()
             if k not in ("params", "initial_lr")}
    if kind == "sgd":
        optimizer = torch.optim.SGD(params, lr=group["lr"], momentum=0.9,
                                    weight_decay=group["weight_decay"])
    else:
        optimizer = torch.optim.AdamW(params, lr=group["lr"],
                                      weight_decay=group["weight_decay"])
    if not fresh:
        optimizer.load_state_dict(state)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(data, batch_size=bs, shuffle=False)
    for _ in range(epochs):
        model.eval()
        if part == "layer4":
            model.layer4.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    name = f"resumed-{'fresh-' if fresh else ''}{kind}.pth"
    torch.save(model.state_dict(), os.path.join(out, name))
    print(json.dumps({
        "type": type(state).__name__,
        "keys": sorted(state.keys()),
        "group": sorted(state["param_groups"][0].keys()),
        "state_keys": sorted(next(iter(state["state"].values())).keys()),
        "lr": state["param_groups"][0]["lr"]}))


def relative(a, b):
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))


def container(path, state):
    """What torch.save's own files are: an OrderedDict in a zip whose records
    have right CRCs and start on 64-byte boundaries."""
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        crc_ok = archive.testzip() is None
        aligned = True
        for info in archive.infolist():
            raw.seek(info.header_offset + 26)
            name_size, extra_size = struct.unpack("<HH", raw.read(4))
            start = info.header_offset + 30 + name_size + extra_size
            aligned = aligned and start % 64 == 0 and info.compress_type == 0
        names = archive.namelist()
    return {"ordered_dict": type(state) is collections.OrderedDict,
            "zip_crc_ok": crc_ok, "zip_aligned": aligned,
            "zip_records": [names[0], names[-1]]}


def check(model_dir, expected_path, fixture, val):
    state = torch.load(os.path.join(model_dir, "model.pth"))
    labels = open(os.path.join(model_dir, "labels.txt")).read().split()
    model = resnet50(num_classes=len(labels))
    model.load_state_dict(state, strict=True)  # raises when not strict-loadable
    model.eval()
    expected = torch.load(expected_path)
    base = torch.load(fixture)
    result = {"strict": True, "keys_in_order": list(state.keys()) == list(model.state_dict().keys())}
    result.update(container(os.path.join(model_dir, "model.pth"), state))
    for part in ("fc", "layer4"):
        keys = [k for k in state if k.startswith(part + ".")]
        weights = [k for k in keys if "running" not in k and "num_batches" not in k]
        running = [k for k in keys if "running" in k]
        result[part] = max(relative(state[k], expected[k]) for k in weights)
        if running:
            result[part + "_running"] = max(relative(state[k], expected[k]) for k in running)
    result["trunk_identical"] = all(
        torch.equal(state[k], base[k]) for k in base
        if not k.startswith(("fc.", "layer4.")) and not k.endswith("num_batches_tracked"))
    result["layer4_identical"] = all(
        torch.equal(state[k], base[k]) for k in base if k.startswith("layer4."))
    data = ImageFolder(val, transform=ResNet50_Weights.IMAGENET1K_V2.transforms())
    logits = {}
    with torch.no_grad():
        for path, _ in data.samples:
            x = data.transform(data.loader(path))[None]
            logits[os.path.abspath(path)] = model(x)[0].tolist()
    result["logits"] = logits
    print(json.dumps(result))


def load(model_dir):
    record = json.load(open(os.path.join(model_dir, "model.json")))
    model = getattr(torchvision.models, record["arch"])(
        num_classes=record["num_classes"])
    state = torch.load(os.path.join(model_dir, "model.pth"))
    model.load_state_dict(state, strict=True)  # raises when not strict-loadable
    float32 = all(t.dtype == torch.float32 for k, t in state.items()
                  if not k.endswith("num_batches_tracked"))
    print(json.dumps({"strict": True, "arch": record["arch"],
                      "num_classes": record["num_classes"], "float32": float32}))


def main():
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2])
    elif command == "fit":
        out, fixture, part = sys.argv[2:5]
        epochs, lr, wd, ls, bs, seed = sys.argv[5:11]
        device = sys.argv[11] if len(sys.argv) > 11 else "cpu"
        fit(out, fixture, part, int(epochs), float(lr), float(wd), float(ls),
            int(bs), int(seed), device)
    elif command == "check":
        check(*sys.argv[2:6])
    elif command == "resume":
        out, model_dir, part, kind, epochs, bs = sys.argv[2:8]
        resume(out, model_dir, part, kind, int(epochs), int(bs),
               len(sys.argv) > 8 and sys.argv[8] == "fresh")
    elif command == "load":
        load(sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
