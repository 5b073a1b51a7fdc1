#!/usr/bin/python3
"""Makes evaluate's fixture and its expected result with torchvision itself.

Run with Debian's /usr/bin/python3 (python3-torchvision). Writes into OUT:
  data/         an ImageFolder tree: 3 classes ("Cat", "bird", "dog": byte
                order is not creation order), photo-like images tinted per
                class, one truncated JPEG (a broken input) and a text file
  model.pth     a ResNet18 with a 3-class fc (torch.save of its state_dict),
                BatchNorm statistics measured, fc fitted on a third of the
                images, so that most images are right and some are not
  labels.txt    the class names in class order
  expected.json torchvision's acc@1, acc@3 (top-5 of 3 classes) and
                confusion matrix: ImageFolder, the weights' transforms,
                model(batch).topk, computed as torchvision's reference
                evaluation computes them

Skips the work when OUT already holds what this same script made.
"""

import io
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import datasets
from torchvision.models import ResNet18_Weights, resnet18

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402
from make_fixtures import (  # noqa: E402
    calibrate_batch_norms, locked, made_with, natural_image, pooled_features, prune_stale,
    script_hash, up_to_date)

SEED = 20261212
CLASSES = ("bird", "Cat", "dog")  # created in this order; sorted: Cat, bird, dog
TINTS = {"bird": (1.15, 0.95, 0.85), "Cat": (0.85, 1.1, 0.95),
         "dog": (0.9, 0.9, 1.2)}
PER_CLASS = 26
TRANSFORMS = ResNet18_Weights.DEFAULT.transforms()


# This script and the one whose images and calibration it uses.
SCRIPTS = (os.path.abspath(__file__), make_fixtures.__file__)


def make_images(data):
    """PER_CLASS images per class, JPEG and PNG, of several sizes."""
    if os.path.exists(data):
        shutil.rmtree(data)
    for c, name in enumerate(CLASSES):
        os.makedirs(os.path.join(data, name))
        for i in range(PER_CLASS):
            seed = 7000 + 100 * c + i
            width, height = 90 + (i * 37) % 140, 80 + (i * 53) % 120
            pixels = natural_image(width, height, seed).astype(np.float64)
            pixels = np.clip(pixels * np.array(TINTS[name]), 0, 255)
            image = Image.fromarray(pixels.astype(np.uint8), "RGB")
            extension = ".png" if i % 3 == 0 else ".jpg"
            image.save(os.path.join(data, name, f"{name}_{i:02d}{extension}"))
    buffer = io.BytesIO()
    Image.fromarray(natural_image(120, 90, 99), "RGB").save(buffer, "JPEG")
    with open(os.path.join(data, "dog", "broken.jpg"), "wb") as f:
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with open(os.path.join(data, "bird", "notes.txt"), "w") as f:
        f.write("not an image\n")


def loads(path):
    """What ImageFolder can use: PIL opens and decodes it (the broken JPEG
    is left out, as evaluate reports it and leaves it out)."""
    if not path.lower().endswith((".jpg", ".png")):
        return False
    try:
        with Image.open(path) as image:
            image.convert("RGB")
        return True
    except OSError:
        return False


def make_model(dataset):
    torch.manual_seed(SEED)
    model = resnet18(num_classes=len(dataset.classes))
    batch = torch.stack([dataset[i][0] for i in range(0, len(dataset), 3)][:16])
    calibrate_batch_norms(model, batch)
    # fc fitted (ridge regression onto one-hot targets) on every third image
    # of each class: right on most of the others, wrong on some.
    with torch.no_grad():
        fit = [i for i in range(len(dataset)) if i % 3 == 1]
        features = pooled_features(model, torch.stack([dataset[i][0] for i in fit]))
        targets = torch.nn.functional.one_hot(
            torch.tensor([dataset.targets[i] for i in fit]), 3).float()
        mean = features.mean(0)
        centred = features - mean
        gram = centred.T @ centred + 50.0 * torch.eye(centred.shape[1])
        weight = torch.linalg.solve(gram, centred.T @ (targets - 1 / 3)).T * 6
        model.fc.weight.copy_(weight)
        model.fc.bias.copy_(-weight @ mean)
    model.eval()
    return model


def drop_close_calls(dataset, model):
    """Removes images whose top two logits are within 1e-3 of the largest
    |logit|: a float difference between implementations could swap them."""
    kept = []
    with torch.no_grad():
        for path, target in dataset.samples:
            logits = model(TRANSFORMS(Image.open(path).convert("RGB"))[None])[0]
            top = logits.topk(2).values
            if float(top[0] - top[1]) < 1e-3 * float(logits.abs().max()):
                os.remove(path)
            else:
                kept.append((path, target))
    return kept


def evaluate(out, model):
    """torchvision's reference evaluation: topk over the ImageFolder."""
    dataset = datasets.ImageFolder(os.path.join(out, "data"), TRANSFORMS,
                                   is_valid_file=loads)
    loader = torch.utils.data.DataLoader(dataset, batch_size=16)
    k = min(5, len(dataset.classes))
    confusion = np.zeros((3, 3), dtype=np.int64)
    correct1 = correct5 = 0
    with torch.no_grad():
        for images, targets in loader:
            top = model(images).topk(k, dim=1).indices
            correct1 += int((top[:, 0] == targets).sum())
            correct5 += int((top == targets[:, None]).any(dim=1).sum())
            for truth, predicted in zip(targets.tolist(), top[:, 0].tolist()):
                confusion[truth][predicted] += 1
    total = len(dataset)
    return {"classes": dataset.classes, "images": total, "topk": k,
            "acc@1": 100.0 * correct1 / total, "acc@5": 100.0 * correct5 / total,
            "correct@1": correct1, "correct@5": correct5,
            "confusion": confusion.tolist()}


def main():
    out = os.path.abspath(sys.argv[1])
    with locked(out):
        stamp = os.path.join(out, "expected.json")
        if up_to_date(stamp, script_hash(*SCRIPTS)):
            print("evaluate fixture is up to date in", out)
            return 0
        make(out, stamp)
    prune_stale(out, "expected.json")
    return 0


def make(out, stamp):
    """Makes the fixture into `out`; the stamp, written last, says it is
    complete."""
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    data = os.path.join(out, "data")
    make_images(data)
    dataset = datasets.ImageFolder(data, TRANSFORMS, is_valid_file=loads)
    assert dataset.classes == sorted(CLASSES), dataset.classes
    model = make_model(dataset)
    kept = drop_close_calls(dataset, model)
    assert len(kept) >= 60, len(kept)
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("".join(name + "\n" for name in dataset.classes))
    expected = evaluate(out, model)
    assert 50 < expected["acc@1"] < 100, expected
    expected.update(made_with(script_hash(*SCRIPTS)))
    with open(stamp + ".tmp", "w") as f:
        json.dump(expected, f, indent=1)
    os.replace(stamp + ".tmp", stamp)
    print(f"evaluate fixture: {expected['images']} images, acc@1 "
          f"{expected['acc@1']:.2f}, confusion {expected['confusion']}")


if __name__ == "__main__":
    sys.exit(main())
