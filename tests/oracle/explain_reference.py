#!/usr/bin/python3
"""The PyTorch side of explain's tests (tests/test_explain.cpp).

  maps RECORDS CHECKPOINT ARCH RESIZE CROP EXIF
      For every record of RECORDS (resnet-cli classify --explain's JSON Lines)
      computes, with torchvision's ARCH loaded from CHECKPOINT and the image
      transformed as torchvision does (resize RESIZE, center crop CROP; EXIF
      "apply": PIL's exif_transpose first):
        - the class activation map of the top-1 class from a forward hook on
          layer4: sum_c fc.weight[k, c] * A[c];
        - Grad-CAM at layer4 with autograd: the gradient of the top-1 logit
          averaged over the grid weighs A's channels;
      each normalised as pytorch-grad-cam does (ReLU, minus the minimum,
      divided by the maximum + 1e-7), and from the record's own grid the box
      of the cells above half its maximum in the input's pixels, the crop
      undone from torchvision's geometry. Prints JSON: a list, per record,
      of the top-1 class, both largest differences to the record's grid, the
      expected box and crop and the record's.
  overlay RECORD_LINE IMAGE OVERLAY_PNG RESIZE CROP EXIF
      Draws the overlay from the record's grid as README's Explain says
      (bilinear with half-pixel centres onto the crop's region, matplotlib's
      viridis, alpha 0.5, outside the crop dimmed by half) and compares it
      with OVERLAY_PNG read by PIL. When the input is not resized, also with
      torch's own interpolate(mode="bilinear", align_corners=False) onto the
      crop. Prints JSON: both sizes, the largest difference, and the number
      of pixels that differ.
"""

import json
import math
import sys

import numpy as np
import torch
import torchvision
from matplotlib import cm
from PIL import Image, ImageOps
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F


def load_image(path, exif):
    image = Image.open(path)
    if exif == "apply":
        image = ImageOps.exif_transpose(image)
    return image.convert("RGB")


def geometry(width, height, resize, crop):
    """torchvision's resize (short side, long side truncated) and center crop
    offsets, read from torchvision's own functions, and the crop's region in
    the input's pixels."""
    resized = F.resize(Image.new("RGB", (width, height)), resize,
                       InterpolationMode.BILINEAR)
    rw, rh = resized.size
    # center_crop pads first when the image is smaller than the crop.
    left = int(round((rw - crop) / 2.0))
    top = int(round((rh - crop) / 2.0))
    region = (left * width / rw, top * height / rh,
              (left + crop) * width / rw, (top + crop) * height / rh)
    return region


def pixel_box(region, width, height):
    left, top, right, bottom = region
    clip = lambda v, size: int(min(max(v, 0), size))
    return {"left": clip(math.floor(left), width),
            "top": clip(math.floor(top), height),
            "right": clip(math.ceil(right), width),
            "bottom": clip(math.ceil(bottom), height)}


def half_max_box(grid, region, width, height):
    grid = np.asarray(grid, dtype=np.float64)
    if not grid.max() > 0:
        return None
    rows, cols = np.nonzero(grid > 0.5 * grid.max())
    left, top, right, bottom = region
    w, h = right - left, bottom - top
    n_rows, n_cols = grid.shape
    cells = (left + cols.min() * w / n_cols, top + rows.min() * h / n_rows,
             left + (cols.max() + 1) * w / n_cols,
             top + (rows.max() + 1) * h / n_rows)
    return pixel_box(cells, width, height)


def normalise(cam):
    """pytorch-grad-cam: np.maximum(cam, 0), then scale_cam_image."""
    cam = np.maximum(cam, 0)
    cam = cam - np.min(cam)
    return cam / (1e-7 + np.max(cam))


def load_model(checkpoint, arch):
    state = torch.load(checkpoint)
    model = getattr(torchvision.models, arch)(
        num_classes=state["fc.weight"].shape[0])
    model.load_state_dict(state)
    return model.eval()


def reference_maps(model, image, resize, crop):
    x = F.normalize(
        F.pil_to_tensor(F.center_crop(
            F.resize(image, resize, InterpolationMode.BILINEAR),
            crop)).float() / 255,
        [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).unsqueeze(0)
    captured = {}

    def hook(module, inputs, output):
        output.retain_grad()
        captured["A"] = output

    handle = model.layer4.register_forward_hook(hook)
    logits = model(x)
    handle.remove()
    k = int(logits[0].argmax())
    activations = captured["A"][0].detach().numpy()
    weight = model.fc.weight[k].detach().numpy()
    cam = np.einsum("c,chw->hw", weight, activations)
    model.zero_grad()
    logits[0, k].backward()
    grads = captured["A"].grad[0].numpy()
    gradcam = (grads.mean(axis=(1, 2))[:, None, None] * activations).sum(0)
    return k, normalise(cam), normalise(gradcam)


def maps(records, checkpoint, arch, resize, crop, exif):
    model = load_model(checkpoint, arch)
    results = []
    with open(records) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    for record in lines:
        image = load_image(record["path"], exif)
        k, cam, gradcam = reference_maps(model, image, resize, crop)
        first = record["explain"]["maps"][0]
        grid = np.asarray(first["grid"], dtype=np.float64)
        width, height = image.size
        region = geometry(width, height, resize, crop)
        results.append({
            "path": record["path"],
            "top1": k,
            "record_index": first["index"],
            "cam_difference": float(np.abs(grid - cam).max()),
            "gradcam_difference": float(np.abs(grid - gradcam).max()),
            "grid_shape": list(grid.shape),
            "expected_shape": list(cam.shape),
            "box": half_max_box(grid, region, width, height),
            "record_box": first["box"],
            "crop": pixel_box(region, width, height),
            "record_crop": record["explain"]["crop"],
            "size": [width, height],
            "record_size": [record["explain"]["width"],
                            record["explain"]["height"]],
        })
    print(json.dumps(results))


def viridis_table():
    return np.rint(np.asarray(cm.viridis.colors) * 255).astype(np.int64)


def draw(pixels, grid, region, values=None):
    """The overlay as README's Explain defines it, in float64. `values`, when
    given, replaces the upsampled grid (height x width, NaN outside)."""
    height, width = pixels.shape[:2]
    left, top, right, bottom = region
    n_rows, n_cols = grid.shape

    def axis(count, start, end, cells):
        centre = np.arange(count) + 0.5
        inside = (centre >= start) & (centre < end)
        position = np.clip((centre - start) * cells / (end - start) - 0.5, 0,
                           cells - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, cells - 1)
        return inside, low, high, position - low

    xin, x0, x1, fx = axis(width, left, right, n_cols)
    yin, y0, y1, fy = axis(height, top, bottom, n_rows)
    if values is None:
        fx2, fy2 = fx[None, :], fy[:, None]
        upper = (1 - fx2) * grid[y0][:, x0] + fx2 * grid[y0][:, x1]
        lower = (1 - fx2) * grid[y1][:, x0] + fx2 * grid[y1][:, x1]
        values = (1 - fy2) * upper + fy2 * lower
    index = np.clip(np.floor(255 * values), 0, 255).astype(np.int64)
    colour = viridis_table()[index]
    image = pixels.astype(np.float64)
    blended = np.floor(0.5 * colour + 0.5 * image + 0.5)
    dimmed = np.floor(0.5 * image + 0.5)
    inside = (yin[:, None] & xin[None, :])[..., None]
    return np.where(inside, blended, dimmed).astype(np.uint8)


def torch_values(grid, region, width, height, crop):
    """When the input is not resized (region in whole pixels, crop x crop):
    the grid upsampled onto the crop by torch itself, placed in the image."""
    left, top = int(region[0]), int(region[1])
    up = torch.nn.functional.interpolate(
        torch.tensor(grid, dtype=torch.float32)[None, None], size=(crop, crop),
        mode="bilinear", align_corners=False)[0, 0].double().numpy()
    values = np.zeros((height, width))
    ys = slice(max(top, 0), min(top + crop, height))
    xs = slice(max(left, 0), min(left + crop, width))
    values[ys, xs] = up[ys.start - top:ys.stop - top,
                        xs.start - left:xs.stop - left]
    return values


def overlay(record_line, image_path, png_path, resize, crop, exif):
    record = json.loads(record_line)
    image = load_image(image_path, exif)
    pixels = np.asarray(image)
    width, height = image.size
    region = geometry(width, height, resize, crop)
    grid = np.asarray(record["explain"]["maps"][0]["grid"], dtype=np.float64)
    written = Image.open(png_path)
    result = {"size": [width, height], "png_size": list(written.size),
              "png_mode": written.mode}
    actual = np.asarray(written.convert("RGB")).astype(np.int64)
    if actual.shape[:2] == pixels.shape[:2]:
        expected = draw(pixels, grid, region).astype(np.int64)
        difference = np.abs(actual - expected)
        result["max_difference"] = int(difference.max())
        result["differing"] = int((difference.max(axis=2) > 0).sum())
        if region[2] - region[0] == crop and region[3] - region[1] == crop:
            by_torch = draw(pixels, grid, region,
                            torch_values(grid, region, width, height, crop))
            result["torch_max_difference"] = int(
                np.abs(actual - by_torch.astype(np.int64)).max())
    print(json.dumps(result))


def main(argv):
    if argv[1] == "maps":
        maps(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]), argv[7])
    elif argv[1] == "overlay":
        overlay(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]),
                argv[7])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
