#!/usr/bin/python3
"""Compares resnet-cli's decoding with PIL's, file by file.

For every file under the given folders, decodes it with PIL as torchvision's
ResNet50_Weights.IMAGENET1K_V2.transforms() does up to the uint8 crop
(F.center_crop(F.resize(Image.open(f).convert("RGB"), 232), 224)) and with
`resnet-cli preprocess FILE --png CROP`, and sorts the file into one of

  exact          both decode it, and the crops are equal bit for bit
  differs        both decode it, the crops differ (max |difference| given)
  refused_both   neither decodes it
  refused_by_cli PIL decodes it, resnet-cli refuses it
  refused_by_pil resnet-cli decodes it, PIL refuses it

Run with Debian's /usr/bin/python3 (PIL 9.4, torchvision: the oracle).

  compare_with_pil.py --cli build/cli/resnet-cli FOLDER... [--table]
      [--expect known.json] [--json results.json]
  compare_with_pil.py --crops-tool build/tests/decode_crops FOLDER... ...

--allow-truncated passes that option to resnet-cli (PIL is run as always):
for files PIL reads whole, which must decode the same, and with no warning.

--cli runs the binary once per file, as a user would; --crops-tool runs the
test helper tests/tools/decode_crops (the same library calls, many files a
process: what the ctest case uses, for speed).

--expect names the files whose outcome is knowingly not exact or
refused_both: {"relative/path": {"outcome": "differs", "max_diff": 3,
"reason": "..."}}. With it, the script fails (exit 1) on any other such file,
on a listed file whose outcome changed or whose difference grew, and always
on what must never happen: resnet-cli crashing or hanging, printing anything
to stderr besides its one error line (or an expected warning), or handing
out a uniform crop for a file PIL refuses.
"""

import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from PIL import Image
from torchvision.transforms import functional as F

# The rows of the table: Pillow's format names, grouped as users know them.
FORMAT_ROWS = {
    "JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP",
    "TIFF": "TIFF", "BMP": "BMP", "DIB": "BMP", "PPM": "PPM/PGM/PBM",
    "JPEG2000": "JPEG 2000", "TGA": "TGA", "ICO": "ICO/CUR", "CUR": "ICO/CUR",
    "PSD": "PSD", "DDS": "DDS", "SGI": "SGI", "PCX": "PCX", "XBM": "XBM",
}
OUTCOMES = ("exact", "differs", "refused_both", "refused_by_cli",
            "refused_by_pil")
TIMEOUT_S = 60


def format_of(path, pil_format):
    if pil_format:
        return FORMAT_ROWS.get(pil_format, "other (" + pil_format + ")")
    extension = os.path.splitext(path)[1].lower()
    name = Image.registered_extensions().get(extension)
    if name is None:
        return "other (unknown)"
    return FORMAT_ROWS.get(name, "other (" + name + ")")


def on_alarm(signum, frame):
    raise TimeoutError("PIL took more than %d s" % TIMEOUT_S)


def pil_decode(path):
    """(format, verdict, crop or None, warnings) as PIL gives them."""
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIMEOUT_S)
    pil_format = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with Image.open(path) as image:
                pil_format = image.format
                rgb = image.convert("RGB")
            crop = np.asarray(F.center_crop(F.resize(rgb, 232), 224))
            verdict = "ok"
        except BaseException as error:  # what PIL says, for the record
            crop = None
            verdict = type(error).__name__
        finally:
            signal.alarm(0)
    messages = sorted({type(w.message).__name__ for w in caught})
    return pil_format, verdict, crop, messages


def cli_decode(cli, path, scratch, options):
    """(verdict, crop or None, stderr lines) as resnet-cli gives them."""
    png = os.path.join(scratch, "crop.png")
    if os.path.exists(png):
        os.remove(png)
    try:
        run = subprocess.run([cli, "preprocess", path, "--png", png] + options,
                             capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "hang", None, []
    err = run.stderr.decode(errors="replace").splitlines()
    if run.returncode == 0:
        with Image.open(png) as image:
            return "ok", np.asarray(image.convert("RGB")), err
    if run.returncode == 1 and err:
        return "error", None, err
    return "crash (exit %d)" % run.returncode, None, err


def tool_decode(tool, paths, out, options):
    """{path: (verdict, crop or None, stderr lines)} from one decode_crops
    run over `paths`, writing its crops into `out`."""
    try:
        run = subprocess.run([tool] + options + [out] + paths,
                             capture_output=True,
                             timeout=TIMEOUT_S * max(1, len(paths) // 10))
    except subprocess.TimeoutExpired:
        return {path: ("hang", None, []) for path in paths}
    errors = {}
    for line in run.stdout.decode(errors="replace").splitlines():
        index, _, message = line.split("\t", 2)
        errors[int(index)] = message
    stderr = {}
    current = None
    for line in run.stderr.decode(errors="replace").splitlines():
        if line.startswith("@@ "):
            current = int(line[3:])
            stderr[current] = []
        elif current is not None:
            stderr[current].append(line)
    results = {}
    for index, path in enumerate(paths):
        err = stderr.get(index, [])
        if index in errors:
            results[path] = ("error", None, err + [errors[index]])
        elif os.path.exists(os.path.join(out, "%d.png" % index)):
            with Image.open(os.path.join(out, "%d.png" % index)) as image:
                results[path] = ("ok", np.asarray(image.convert("RGB")), err)
        else:  # the tool died on this file
            results[path] = ("crash (exit %d)" % run.returncode, None, err)
    return results


def tool_decode_all(tool, paths, jobs, options):
    chunks = [paths[i::jobs] for i in range(jobs)]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futures = []
            for i, chunk in enumerate(chunks):
                folder = os.path.join(scratch, str(i))
                os.makedirs(folder)
                futures.append(pool.submit(tool_decode, tool, chunk, folder,
                                           options))
            for future in futures:
                results.update(future.result())
    return results


def compare(args):
    cli, path, relative, decoded, options = args
    pil_format, pil_verdict, pil_crop, pil_warnings = pil_decode(path)
    if decoded is not None:
        cli_verdict, cli_crop, cli_err = decoded
    else:
        with tempfile.TemporaryDirectory() as scratch:
            cli_verdict, cli_crop, cli_err = cli_decode(cli, path, scratch,
                                                        options)
    result = {
        "file": relative,
        "format": format_of(path, pil_format),
        "pil": pil_verdict,
        "cli": cli_verdict,
        "cli_stderr": cli_err,
    }
    if pil_warnings:
        result["pil_warnings"] = pil_warnings
    pil_ok = pil_verdict == "ok"
    cli_ok = cli_verdict == "ok"
    if pil_ok and cli_ok:
        if pil_crop.shape == cli_crop.shape:
            diff = np.abs(pil_crop.astype(int) - cli_crop.astype(int))
            result["max_diff"] = int(diff.max())
            result["differing"] = int((diff > 0).sum())
        else:
            result["max_diff"] = 255
            result["shapes"] = [list(pil_crop.shape), list(cli_crop.shape)]
        result["outcome"] = "exact" if result["max_diff"] == 0 else "differs"
    elif pil_ok:
        result["outcome"] = "refused_by_cli"
    elif cli_ok:
        result["outcome"] = "refused_by_pil"
        result["uniform"] = bool((cli_crop == cli_crop.flat[0]).all())
    else:
        result["outcome"] = "refused_both"
    return result


def problems_of(result, expected):
    """What is wrong with one file's result, as sentences."""
    problems = []
    name = result["file"]
    if result["cli"] not in ("ok", "error"):
        problems.append("resnet-cli: " + result["cli"])
    stderr = list(result["cli_stderr"])
    # PIL's DecompressionBombWarning and resnet-cli's --max-pixels warning
    # come together.
    bomb = [line for line in stderr if "(--max-pixels); decoded anyway" in line]
    pil_bomb = "DecompressionBombWarning" in result.get("pil_warnings", [])
    if bool(bomb) != pil_bomb and result["cli"] != "error":
        problems.append("pixel-limit warning: resnet-cli %s, PIL %s" %
                        (bool(bomb), pil_bomb))
    stderr = [line for line in stderr if line not in bomb]
    if result["cli"] == "error":
        if len(stderr) != 1 or not stderr[0].startswith("resnet-cli: "):
            problems.append("not one error line: %r" % stderr)
    if result["cli"] == "ok":
        allowed = expected.get("stderr", [])
        for line in stderr:
            if not any(part in line for part in allowed):
                problems.append("stray stderr line: " + line)
    if result.get("uniform"):
        problems.append("a uniform image where PIL refuses the file")
    outcome = result["outcome"]
    if outcome in ("exact", "refused_both"):
        if expected.get("outcome") not in (None, outcome):
            problems.append("now %s, listed as %s (update the list)" %
                            (outcome, expected["outcome"]))
        return [name + ": " + p for p in problems]
    if not expected:
        detail = ""
        if outcome == "differs":
            detail = " (max |difference| %d)" % result["max_diff"]
        problems.append(outcome + detail + "; not listed as known")
    elif expected.get("outcome") != outcome:
        problems.append("%s, listed as %s" % (outcome, expected.get("outcome")))
    elif outcome == "differs" and result["max_diff"] > expected.get("max_diff", 0):
        problems.append("max |difference| %d, listed as %d" %
                        (result["max_diff"], expected["max_diff"]))
    return [name + ": " + p for p in problems]


def table(results):
    counts = {}
    for result in results:
        row = counts.setdefault(result["format"], dict.fromkeys(OUTCOMES, 0))
        row[result["outcome"]] += 1
    lines = ["| format | exact | differs | refused by both | refused by "
             "resnet-cli only | refused by PIL only |",
             "|---|---|---|---|---|---|"]
    total = dict.fromkeys(OUTCOMES, 0)
    for name in sorted(counts):
        lines.append("| %s | %s |" % (name, " | ".join(
            str(counts[name][o]) for o in OUTCOMES)))
        for o in OUTCOMES:
            total[o] += counts[name][o]
    lines.append("| all | %s |" % " | ".join(str(total[o]) for o in OUTCOMES))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--cli", help="the resnet-cli binary")
    which.add_argument("--crops-tool", help="tests/tools/decode_crops, built")
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--expect", help="known differences (JSON)")
    parser.add_argument("--json", help="write every file's result here")
    parser.add_argument("--table", action="store_true",
                        help="print the table by format (markdown)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--allow-truncated", action="store_true",
                        help="pass --allow-truncated to resnet-cli")
    args = parser.parse_args()

    options = ["--allow-truncated"] if args.allow_truncated else []
    work = []
    for folder in args.folders:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                if name.startswith(".") or not os.path.isfile(path):
                    continue
                work.append([args.cli and os.path.abspath(args.cli), path,
                             os.path.relpath(path, folder), None, options])
    if args.crops_tool:
        decoded = tool_decode_all(os.path.abspath(args.crops_tool),
                                  [item[1] for item in work], args.jobs,
                                  options)
        for item in work:
            item[3] = decoded[item[1]]
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(compare, work, chunksize=4))

    known = {}
    if args.expect:
        with open(args.expect) as f:
            known = json.load(f)
    problems = []
    for result in results:
        problems += problems_of(result, known.get(result["file"], {}))
    listed = set(known) - {r["file"] for r in results}
    problems += [name + ": listed as known, but not compared" for name in sorted(listed)]

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.table:
        print(table(results))
    for problem in problems:
        print(problem)
    print("%d files compared, %d problems" % (len(results), len(problems)))
    return 1 if problems and args.expect else 0


if __name__ == "__main__":
    sys.exit(main())
