#!/usr/bin/python3
"""The Python side of scripts/bench's int8 figures (run by it, Debian's
PyTorch 1.13 on the onednn engine, 2 threads):

  peak MODEL_PTH          GOP/s of a large quantized convolution (the int8
                          yardstick): best of the 3x3 and 1x1 shapes below
  eager MODEL_PTH BATCH   img/s of torchvision's quantizable ResNet50 with
                          MODEL_PTH loaded strict (forward only, 224x224)
  onnx MODEL_PTH OUT      the same network exported as ONNX Runtime runs it
                          (torch.onnx.export, opset 13: QLinearConv ...)

MODEL_PTH is a converted state_dict, e.g. resnet-cli quantize's model.pth.
Prints one number (or nothing for onnx).
"""
import sys
import time
import warnings

import torch
from torchvision.models import quantization as tvq

ITERATIONS = 20


def quantized_resnet50(path):
    torch.backends.quantized.engine = "onednn"
    model = tvq.resnet50(weights=None, quantize=False).eval()
    model.fuse_model(is_qat=False)
    model.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
    torch.ao.quantization.prepare(model, inplace=True)
    torch.ao.quantization.convert(model, inplace=True)
    model.load_state_dict(torch.load(path), strict=True)
    return model


def best_seconds(run, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def conv_gops(batch, channels, out_channels, size, kernel):
    x = torch.quantize_per_tensor(torch.rand(batch, channels, size, size), 0.02, 0,
                                  torch.quint8).contiguous(memory_format=torch.channels_last)
    w = torch.quantize_per_channel(torch.randn(out_channels, channels, kernel, kernel) * 0.05,
                                   torch.full((out_channels,), 0.001, dtype=torch.double),
                                   torch.zeros(out_channels, dtype=torch.long), 0, torch.qint8)
    conv = torch.ao.nn.quantized.Conv2d(channels, out_channels, kernel, padding=kernel // 2)
    conv.set_weight_bias(w, torch.zeros(out_channels))
    conv.scale, conv.zero_point = 0.1, 0
    for _ in range(3):
        conv(x)
    ops = 2 * batch * out_channels * channels * kernel * kernel * size * size
    return ops / best_seconds(lambda: conv(x), 10) / 1e9


def main():
    # convert() on a network whose observers never ran warns once each; the
    # state_dict loaded after it brings the real parameters.
    warnings.filterwarnings("ignore", message="must run observer")
    torch.set_num_threads(2)
    torch.backends.quantized.engine = "onednn"
    mode = sys.argv[1]
    if mode == "peak":
        print("%.1f" % max(conv_gops(4, 256, 256, 56, 3), conv_gops(8, 1024, 256, 28, 1)))
    elif mode == "eager":
        model = quantized_resnet50(sys.argv[2])
        batch = int(sys.argv[3])
        x = torch.randn(batch, 3, 224, 224)
        with torch.no_grad():
            for _ in range(3):
                model(x)
            start = time.perf_counter()
            for _ in range(ITERATIONS):
                model(x)
            print("%.2f" % (ITERATIONS * batch / (time.perf_counter() - start)))
    elif mode == "onnx":
        model = quantized_resnet50(sys.argv[2])
        torch.onnx.export(model, torch.randn(2, 3, 224, 224), sys.argv[3], opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
