#!/usr/bin/env python3
"""resnet-cli on a GPU against PyTorch on the same GPU (issue 24).

  gpu_checks.py parity --cli CLI --work DIR
      ResNet50 and ResNet18 (calibrated random weights, tests/oracle's), the
      same images through resnet-cli --device cuda and torchvision on the GPU:
      fp32 with TF32 off within 1e-4 of the largest logit and the same top 5;
      bf16 and fp16 within 2% of fp32's logits.
  gpu_checks.py bench --cli CLI --work DIR [--images N] [--precisions LIST]
      a folder of N JPEGs made on the spot, classified by resnet-cli and by
      Python's best pipeline (DataLoader, PIL, pinned memory, the best worker
      count of a few tried) at the same precision; images a second, the
      ratio, and the GPU's busy fraction (nvidia-smi's sampled utilisation,
      and each side's own account of where the time goes).
  gpu_checks.py train --cli CLI --work DIR
      train --train layer4 --device cuda against the same training in PyTorch
      on the same GPU (tests/oracle/train_parity.py, TF32 off), and the
      model.pth it writes loaded on the CPU by torch and by resnet-cli.

CLI is the resnet-cli to run (a wrapper that sets its library path is
fine). --dry-run-cpu runs every step on the CPU instead, fp32 only and at a
small size, to try this script where there is no GPU (its figures mean
nothing). Each check prints what it measured and, last, one line
"RESULT {json}"; exit status 0 when it passed, 1 when it failed, 77 when it
was skipped (no GPU, or a resnet-cli without CUDA), saying why.
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "oracle"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms as T  # noqa: E402

import make_fixtures as fixtures  # noqa: E402

SKIP = 77
DEVICE = "cuda"  # "cpu" with --dry-run-cpu
FP32_TOLERANCE = 1e-4  # of the largest logit
LOW_PRECISION_TOLERANCE = 0.02


def log(message):
    print(message, flush=True)


def result(passed, **values):
    values["passed"] = passed
    print("RESULT " + json.dumps(values), flush=True)
    return 0 if passed else 1


def skip_reason(cli):
    if not torch.cuda.is_available():
        return ("no CUDA GPU: torch.cuda.is_available() is False here "
                f"(torch {torch.__version__})")
    version = subprocess.run([cli, "--version", "--format", "json"],
                             capture_output=True, text=True)
    if version.returncode != 0:
        return None  # the checks will show why it does not run
    if not json.loads(version.stdout).get("cuda_built", False):
        return "this resnet-cli is built against a CPU-only LibTorch"
    return None


def exact_fp32():
    """PyTorch's fp32 as resnet-cli's default: no TF32 anywhere."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def run_cli(cli, args, **kwargs):
    started = time.time()
    done = subprocess.run([cli] + args, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        log(f"  resnet-cli {' '.join(args[:3])}... exited {done.returncode}: "
            + done.stderr.strip()[-2000:])
    return done, time.time() - started


# --------------------------------------------------------------------------
# parity

PARITY_SIZES = ((500, 375), (375, 500), (640, 480), (224, 224), (1000, 300),
                (1200, 900), (100, 80), (257, 311))


def parity_images(folder):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, (width, height) in enumerate(PARITY_SIZES):
        image = Image.fromarray(fixtures.natural_image(width, height, 300 + i), "RGB")
        # PNG: lossless, so both sides see the same pixels whatever libjpeg
        # each links; two JPEGs too, whose decoders may differ.
        name = f"p{i}.png" if i < 6 else f"p{i}.jpg"
        image.save(os.path.join(folder, name), **({"quality": 90} if i >= 6 else {}))
        paths.append(os.path.join(folder, name))
    return sorted(paths)


def calibrated(builder, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, builder)()
    transform = eval_transform()
    batch = torch.stack([
        transform(Image.fromarray(fixtures.natural_image(280, 240, 1000 + i), "RGB"))
        for i in range(12)])
    return fixtures.calibrate(model, batch)


def eval_transform():
    """ImageClassification(crop_size=224, resize_size=256), bilinear: what
    --resize 256 --crop 224 asks of resnet-cli."""
    return T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BILINEAR),
                      T.CenterCrop(224), T.ToTensor(),
                      T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def torch_logits(model, paths, precision):
    transform = eval_transform()
    batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    model = model.to(DEVICE).eval()
    with torch.inference_mode():
        if precision == "fp32":
            out = model(batch.to(DEVICE))
        else:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float16
            with torch.autocast(DEVICE, dtype=dtype):
                out = model(batch.to(DEVICE))
    return out.float().cpu().numpy()


def cli_logits(cli, checkpoint, arch, paths, precision, extra=()):
    args = ["classify", "--device", DEVICE, "--weights-file", checkpoint,
            "--arch", arch, "--resize", "256", "--crop", "224",
            "--output-type", "logit", "-k", "1000", "--format", "jsonl",
            "--precision", precision, "-b", "4"] + list(extra) + paths
    done, seconds = run_cli(cli, args)
    if done.returncode != 0:
        return None, seconds
    rows = {}
    for line in done.stdout.splitlines():
        record = json.loads(line)
        logits = np.zeros(1000, dtype=np.float64)
        for p in record["predictions"]:
            logits[p["index"]] = p["score"]
        rows[record["path"]] = logits
    return np.stack([rows[p] for p in paths]), seconds


def compare(ours, theirs):
    """Largest difference relative to the largest logit, per image (worst
    image), and whether every image's top 5 is the same."""
    relative = max(float(np.abs(o - t).max() / np.abs(t).max())
                   for o, t in zip(ours, theirs))
    top5 = all(list(np.argsort(-o, kind="stable")[:5]) ==
               list(np.argsort(-t, kind="stable")[:5])
               for o, t in zip(ours, theirs))
    return relative, top5


def parity(args):
    exact_fp32()
    images = parity_images(os.path.join(args.work, "parity-images"))
    png = [p for p in images if p.endswith(".png")]
    jpg = [p for p in images if p.endswith(".jpg")]
    passed = True
    values = {}
    for builder, seed in (("resnet50", fixtures.SEED), ("resnet18", fixtures.SEED + 1)):
        model = calibrated(builder, seed)
        checkpoint = os.path.join(args.work, builder + ".pth")
        torch.save(model.state_dict(), checkpoint)
        theirs = torch_logits(model, images, "fp32")
        ours, seconds = cli_logits(args.cli, checkpoint, builder, images, "fp32")
        if ours is None:
            passed = False
            values[builder] = "resnet-cli failed"
            continue
        index = {p: i for i, p in enumerate(images)}
        rel_png, top5_png = compare(ours[[index[p] for p in png]],
                                    theirs[[index[p] for p in png]])
        rel_jpg, top5_jpg = compare(ours[[index[p] for p in jpg]],
                                    theirs[[index[p] for p in jpg]])
        ok = rel_png <= FP32_TOLERANCE and top5_png
        log(f"{builder} fp32 (TF32 off), {len(png)} PNGs: max |diff| / max "
            f"|logit| {rel_png:.2e} (bound {FP32_TOLERANCE:g}), top-5 "
            f"{'identical' if top5_png else 'DIFFERENT'}: "
            f"{'ok' if ok else 'FAIL'}; {len(jpg)} JPEGs: {rel_jpg:.2e}, top-5 "
            f"{'identical' if top5_jpg else 'different'} ({seconds:.1f} s)")
        passed = passed and ok
        values[builder] = {"fp32_relative": rel_png, "fp32_top5": top5_png,
                           "jpeg_relative": rel_jpg, "jpeg_top5": top5_jpg}
        for precision in ("bf16", "fp16") if DEVICE == "cuda" else ():
            low, _ = cli_logits(args.cli, checkpoint, builder, images, precision)
            if low is None:
                passed = False
                continue
            rel, top5 = compare(low, theirs)
            reference, _ = compare(torch_logits(model, images, precision), theirs)
            ok = rel <= LOW_PRECISION_TOLERANCE
            log(f"{builder} {precision} against fp32: {rel:.2e} (bound "
                f"{LOW_PRECISION_TOLERANCE:g}; torchvision's own autocast "
                f"{precision}: {reference:.2e}), top-5 "
                f"{'identical' if top5 else 'different'}: {'ok' if ok else 'FAIL'}")
            passed = passed and ok
            values[builder][precision + "_relative"] = rel
            values[builder][precision + "_torch_relative"] = reference
    # The tensor resnet-cli feeds the network, against torchvision's, for
    # the JPEGs (a difference there is the decoder's, not the network's).
    for path in jpg:
        npy = os.path.join(args.work, "crop.npy")
        done, _ = run_cli(args.cli, ["preprocess", path, "--resize", "256",
                                     "--crop", "224", "-o", npy])
        if done.returncode == 0:
            ours = np.load(npy).reshape(3, 224, 224)
            theirs = eval_transform()(Image.open(path).convert("RGB")).numpy()
            log(f"  {os.path.basename(path)}: input tensors differ by at most "
                f"{float(np.abs(ours - theirs).max()):.2e}")
    return result(passed, **values)


# --------------------------------------------------------------------------
# bench


def make_jpeg(job):
    path, seed = job
    width, height = (500, 375) if seed % 3 else (375, 500)
    Image.fromarray(fixtures.natural_image(width, height, seed), "RGB").save(
        path, quality=90)


def bench_images(folder, count):
    os.makedirs(folder, exist_ok=True)
    jobs = [(os.path.join(folder, f"img{i:05d}.jpg"), 10000 + i) for i in range(count)]
    todo = [job for job in jobs if not os.path.exists(job[0])]
    with multiprocessing.Pool(os.cpu_count()) as pool:
        pool.map(make_jpeg, todo, chunksize=16)
    return [path for path, _ in jobs]


class Utilisation:
    """nvidia-smi's GPU utilisation (percent of time a kernel ran), sampled
    every 100 ms while it lives; mean() over the samples."""

    def __init__(self):
        self.samples = []
        try:
            self.process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu",
                 "--format=csv,noheader,nounits", "-lms", "100"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self.process = None
            return
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            try:
                self.samples.append(float(line.strip().split(",")[0]))
            except ValueError:
                pass

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait()
        return sum(self.samples) / len(self.samples) / 100 if self.samples else None


class Files(torch.utils.data.Dataset):
    def __init__(self, paths):
        self.paths = paths
        self.transform = T.Compose([
            T.Resize(232, interpolation=T.InterpolationMode.BILINEAR),
            T.CenterCrop(224), T.ToTensor(),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return self.transform(Image.open(self.paths[index]).convert("RGB"))


def python_pass(model, loader, precision):
    """One pass over the folder as a user's script runs it: each batch to the
    GPU (pinned, non-blocking), the forward pass, the top 5 back to the CPU.
    Returns (seconds, seconds waiting for the loader, images, utilisation)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    waited = 0.0
    images = 0
    utilisation = Utilisation()
    start = time.time()
    with torch.inference_mode():
        iterator = iter(loader)
        while True:
            before = time.time()
            try:
                batch = next(iterator)
            except StopIteration:
                break
            waited += time.time() - before
            batch = batch.to(DEVICE, non_blocking=True).contiguous(
                memory_format=torch.channels_last)
            if dtype:
                with torch.autocast(DEVICE, dtype=dtype):
                    logits = model(batch)
            else:
                logits = model(batch)
            logits.float().softmax(1).topk(5).indices.cpu()
            images += len(batch)
    seconds = time.time() - start
    return seconds, waited, images, utilisation.stop()


def python_best(paths, precision, batch_size, worker_counts):
    """torchvision's ResNet50 on the GPU, fed by a DataLoader: the best of
    `worker_counts`, each measured on a second pass (workers already up)."""
    exact_fp32()
    torch.backends.cudnn.benchmark = True
    model = torchvision.models.resnet50().to(DEVICE).eval().to(
        memory_format=torch.channels_last)
    best = None
    for workers in worker_counts:
        loader = torch.utils.data.DataLoader(
            Files(paths), batch_size=batch_size, num_workers=workers,
            pin_memory=DEVICE == "cuda", persistent_workers=True)
        try:
            python_pass(model, loader, precision)  # warm-up: workers, cuDNN
            seconds, waited, images, busy = python_pass(model, loader, precision)
        except Exception as error:  # e.g. too little shared memory
            log(f"  python {precision}, {workers} workers: failed: {error!r}")
            continue
        rate = images / seconds
        log(f"  python {precision}, {workers} workers: {rate:.0f} img/s, main "
            f"loop waiting for the loader {waited / seconds:.0%} of "
            f"{seconds:.2f} s, GPU busy {busy if busy is None else f'{busy:.0%}'}")
        if best is None or rate > best["images_per_second"]:
            best = {"workers": workers, "images_per_second": rate,
                    "seconds": seconds, "loader_wait": waited / seconds,
                    "gpu_busy": busy}
        del loader
    return best


def cli_bench(cli, checkpoint, folder, precision, batch_size):
    """resnet-cli bench over the folder twice (the first warms cuDNN and the
    page cache); the second's pipeline figures."""
    iterations = "30" if DEVICE == "cuda" else "1"
    args = ["bench", folder, "--device", DEVICE, "--precision", precision,
            "--weights-file", checkpoint, "--arch", "resnet50",
            "-b", str(batch_size), "--iterations", iterations, "--warmup", "1",
            "--format", "json"]
    run_cli(cli, args)
    utilisation = Utilisation()
    done, _ = run_cli(cli, args)
    busy = utilisation.stop()
    if done.returncode != 0:
        return None
    report = json.loads(done.stdout)
    pipeline = report["pipeline"]
    stages = pipeline["stage_seconds"]
    seconds = pipeline["seconds"]
    figures = {"images_per_second": pipeline["images_per_second"],
               "forward_images_per_second": report["forward"]["images_per_second"],
               "seconds": seconds, "batches": pipeline["batches"],
               "input_wait": stages["input_wait"] / seconds,
               "gpu_busy": busy,
               "decode_thread_seconds": stages["decode"],
               "preprocess_thread_seconds": stages["preprocess"]}
    log(f"  resnet-cli {precision}: {figures['images_per_second']:.0f} img/s "
        f"(forward only {figures['forward_images_per_second']:.0f}), "
        f"{pipeline['images'] / max(1, pipeline['batches']):.1f} images a batch, "
        f"GPU idle for want of input {figures['input_wait']:.0%} of "
        f"{seconds:.2f} s, GPU busy {busy if busy is None else f'{busy:.0%}'}; "
        f"thread-seconds decode {stages['decode']:.1f}, preprocess "
        f"{stages['preprocess']:.1f}")
    return figures


def bench(args):
    folder = os.path.join(args.work, "bench-images")
    started = time.time()
    paths = bench_images(folder, args.images)
    log(f"{len(paths)} JPEGs (500x375 and 375x500, quality 90) in "
        f"{time.time() - started:.1f} s")
    cores = os.cpu_count()
    worker_counts = sorted({max(1, cores // 2), cores - 1, cores})
    # The rate does not depend on the weights: torchvision's initialisation.
    checkpoint = os.path.join(args.work, "bench-resnet50.pth")
    torch.save(torchvision.models.resnet50().state_dict(), checkpoint)
    values = {}
    passed = True
    batch_size = 64 if DEVICE == "cuda" else 2
    for precision in args.precisions.split(","):
        ours = cli_bench(args.cli, checkpoint, folder, precision, batch_size)
        theirs = python_best(paths, precision, batch_size, worker_counts)
        if ours is None or theirs is None:
            passed = False
            values[precision] = {"resnet_cli": ours, "python": theirs}
            continue
        ratio = ours["images_per_second"] / theirs["images_per_second"]
        log(f"{precision}: resnet-cli {ours['images_per_second']:.0f} img/s, "
            f"Python {theirs['images_per_second']:.0f} img/s "
            f"({theirs['workers']} workers): {ratio:.2f}x")
        values[precision] = {"resnet_cli": ours, "python": theirs, "ratio": ratio}
    # The acceptance figure is the ratio at the first precision given.
    first = args.precisions.split(",")[0]
    if first in values:
        passed = passed and values[first]["ratio"] >= 1.5
    return result(passed, **values)


# --------------------------------------------------------------------------
# train


def train(args):
    exact_fp32()
    script = os.path.join(HERE, "..", "oracle", "train_parity.py")
    work = args.work
    fixture = os.path.join(work, "train-fixture.pth")
    torch.save(fixtures.calibrated_resnet50().state_dict(), fixture)
    python = [sys.executable, script]
    subprocess.run(python + ["make", work], check=True)
    fit = python + ["fit", work, fixture, "layer4", "1", "0.05", "1e-4", "0.1",
                    "4", "5", DEVICE]
    subprocess.run(fit, check=True)
    out = os.path.join(work, "model")
    done, seconds = run_cli(args.cli, [
        "train", os.path.join(work, "data"), "--val", os.path.join(work, "val"),
        "-o", out, "--force", "--train", "layer4", "--epochs", "1", "--lr", "0.05",
        "--weight-decay", "1e-4", "--label-smoothing", "0.1", "-b", "4",
        "--seed", "5", "--no-shuffle", "--weights-file", fixture,
        "--device", DEVICE])
    if done.returncode != 0:
        return result(False, train="resnet-cli train failed")
    # check loads model.pth with torch on the CPU (the file says cpu).
    checked = subprocess.run(
        python + ["check", out, os.path.join(work, "expected-layer4.pth"),
                  fixture, os.path.join(work, "val")],
        capture_output=True, text=True, env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    if checked.returncode != 0:
        log(checked.stderr[-2000:])
        return result(False, train="model.pth does not load on the CPU")
    check = json.loads(checked.stdout)
    on_cpu, _ = run_cli(args.cli, ["classify", "--device", "cpu", "--model", out,
                                   os.path.join(work, "val")])
    bounds = {"fc": 1e-3, "layer4": 1e-3, "layer4_running": 1e-3}
    passed = (check["strict"] and check["trunk_identical"]
              and not check["layer4_identical"] and on_cpu.returncode == 0
              and all(check[k] < bound for k, bound in bounds.items()))
    log(f"train --train layer4 --device {DEVICE} ({seconds:.1f} s) against PyTorch "
        f"on the same device: fc {check['fc']:.2e}, layer4 {check['layer4']:.2e}, "
        f"running stats {check['layer4_running']:.2e} (bounds 1e-3), trunk "
        f"unchanged {check['trunk_identical']}; model.pth strict-loaded by "
        f"torch on the CPU {check['strict']}, classify --device cpu --model "
        f"{'ok' if on_cpu.returncode == 0 else 'FAILED'}: "
        f"{'ok' if passed else 'FAIL'}")
    return result(passed, **{k: check[k] for k in bounds},
                  trunk_identical=check["trunk_identical"],
                  cpu_classify=on_cpu.returncode == 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=("parity", "bench", "train"))
    parser.add_argument("--cli", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--precisions", default="bf16,fp32")
    parser.add_argument("--dry-run-cpu", action="store_true")
    args = parser.parse_args()
    if args.dry_run_cpu:
        global DEVICE
        DEVICE = "cpu"
        args.precisions = "fp32"
        args.images = min(args.images, 48)
        torch.set_num_threads(2)
        print("DRY RUN on the CPU: the figures mean nothing", flush=True)
    reason = None if args.dry_run_cpu else skip_reason(args.cli)
    if reason:
        print(f"SKIPPED: {args.check}: {reason}", flush=True)
        return SKIP
    os.makedirs(args.work, exist_ok=True)
    return {"parity": parity, "bench": bench, "train": train}[args.check](args)


if __name__ == "__main__":
    sys.exit(main())
