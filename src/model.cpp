#include "resnet_cli/model.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <sched.h>
#include <torch/cuda.h>

#include <cctype>
#include <cstring>
#include <thread>
#include <vector>

#include "resnet_cli/checkpoint.h"
#include "resnet_cli/error.h"
#include "resnet_cli/model_spec.h"

namespace resnet_cli {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

namespace {

at::ScalarType to_aten(pickle::ScalarType type) {
  switch (type) {
    case pickle::ScalarType::kFloat32:
      return at::kFloat;
    case pickle::ScalarType::kFloat64:
      return at::kDouble;
    case pickle::ScalarType::kFloat16:
      return at::kHalf;
    case pickle::ScalarType::kBFloat16:
      return at::kBFloat16;
    case pickle::ScalarType::kInt64:
      return at::kLong;
    case pickle::ScalarType::kInt32:
      return at::kInt;
    case pickle::ScalarType::kInt16:
      return at::kShort;
    case pickle::ScalarType::kInt8:
      return at::kChar;
    case pickle::ScalarType::kUInt8:
      return at::kByte;
    case pickle::ScalarType::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

at::Device parse_device(const std::string& text) {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(std::tolower(c)));
  if (lower == "cpu") return at::Device(at::kCPU);
  int index = 0;
  if (lower == "cuda") {
    index = 0;
  } else if (lower.rfind("cuda:", 0) == 0 && lower.size() > 5 &&
             lower.find_first_not_of("0123456789", 5) == std::string::npos &&
             lower.size() < 9) {
    index = std::stoi(lower.substr(5));
  } else {
    throw Error(ErrorKind::kUsage,
                "unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
  }
  if (!at::hasCUDA()) {
    throw Error(ErrorKind::kDevice,
                "--device " + text +
                    ": this build of resnet-cli has no CUDA support (its "
                    "LibTorch is CPU-only); use --device cpu");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw Error(ErrorKind::kDevice, "--device " + text + ": only " +
                                        std::to_string(count) +
                                        " CUDA device(s) visible");
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

struct Conv {
  at::Tensor weight;
  std::int64_t stride = 1;
  std::int64_t padding = 0;
};

struct BatchNorm {
  at::Tensor weight, bias, running_mean, running_var;
};

struct Bottleneck {
  Conv conv1, conv2, conv3;
  BatchNorm bn1, bn2, bn3;
  bool has_downsample = false;
  Conv downsample;
  BatchNorm downsample_bn;
};

class ResNet50 final : public Model {
 public:
  ResNet50(const Checkpoint& checkpoint, const ModelOptions& options)
      : checkpoint_(&checkpoint), device_(parse_device(options.device)) {
    check_resnet50_state_dict(checkpoint);
    num_classes_ = checkpoint_num_classes(checkpoint);
    const int threads =
        options.threads > 0 ? options.threads : available_cores();
    at::set_num_threads(threads);
    // oneDNN for every convolution: ATen's own choice sends 1x1 convolutions
    // at one thread and small batches to a path that calls the reference
    // BLAS, ~15x slower here.
    use_mkldnn_ = device_.is_cpu() && at::hasMKLDNN();

    conv1_ = load_conv("conv1", 2, 3);
    bn1_ = load_batch_norm("bn1");
    for (int stage = 0; stage < 4; ++stage) {
      for (int index = 0; index < kResNet50Blocks[stage]; ++index) {
        const std::string prefix =
            "layer" + std::to_string(stage + 1) + "." + std::to_string(index);
        const std::int64_t stride = (stage > 0 && index == 0) ? 2 : 1;
        Bottleneck block;
        block.conv1 = load_conv(prefix + ".conv1", 1, 0);
        block.bn1 = load_batch_norm(prefix + ".bn1");
        // torchvision (ResNet v1.5) strides the 3x3 convolution.
        block.conv2 = load_conv(prefix + ".conv2", stride, 1);
        block.bn2 = load_batch_norm(prefix + ".bn2");
        block.conv3 = load_conv(prefix + ".conv3", 1, 0);
        block.bn3 = load_batch_norm(prefix + ".bn3");
        if (index == 0) {
          block.has_downsample = true;
          block.downsample = load_conv(prefix + ".downsample.0", stride, 0);
          block.downsample_bn = load_batch_norm(prefix + ".downsample.1");
        }
        blocks_.push_back(std::move(block));
      }
    }
    fc_weight_ = load_tensor("fc.weight");
    fc_bias_ = load_tensor("fc.bias");
    checkpoint_ = nullptr;  // only needed while loading
  }

  void bind_thread(int threads) const override {
    at::set_num_threads(threads > 0 ? threads : available_cores());
  }

  std::int64_t num_classes() const override { return num_classes_; }
  std::string device() const override { return device_.str(); }

  void forward(const float* input, std::int64_t batch, std::int64_t height,
               std::int64_t width, float* logits) override {
    run(input, batch, height, width, logits, /*logits_wanted=*/true);
  }

  void features(const float* input, std::int64_t batch, std::int64_t height,
                std::int64_t width, float* features) override {
    run(input, batch, height, width, features, /*logits_wanted=*/false);
  }

 private:
  at::Tensor load_tensor(const std::string& name) {
    const CheckpointTensor* entry = checkpoint_->find(name);
    if (!entry) {
      throw Error(ErrorKind::kCheckpoint,
                  checkpoint_->path().string() + ": missing key " + name);
    }
    try {
      StorageBytes bytes = checkpoint_->read_storage(entry->storage_key);
      const at::Tensor storage = at::from_blob(
          const_cast<std::uint8_t*>(bytes.data), {entry->storage_numel},
          at::TensorOptions().dtype(to_aten(entry->type)));
      const at::Tensor view = storage.as_strided(entry->sizes, entry->strides,
                                                 entry->storage_offset);
      at::Tensor owned =
          at::empty(entry->sizes, at::TensorOptions().dtype(at::kFloat));
      owned.copy_(view);
      return owned.to(device_);
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kCheckpoint,
                  checkpoint_->path().string() + ": cannot load " + name +
                      ": " + first_line(e.what_without_backtrace()));
    }
  }

  Conv load_conv(const std::string& name, std::int64_t stride,
                 std::int64_t padding) {
    return Conv{load_tensor(name + ".weight"), stride, padding};
  }

  BatchNorm load_batch_norm(const std::string& name) {
    return BatchNorm{load_tensor(name + ".weight"), load_tensor(name + ".bias"),
                     load_tensor(name + ".running_mean"),
                     load_tensor(name + ".running_var")};
  }

  at::Tensor conv(const at::Tensor& x, const Conv& c) const {
    if (use_mkldnn_) {
      return at::mkldnn_convolution(x, c.weight, /*bias=*/{},
                                    {c.padding, c.padding},
                                    {c.stride, c.stride}, {1, 1}, 1);
    }
    return at::conv2d(x, c.weight, {}, {c.stride, c.stride},
                      {c.padding, c.padding});
  }

  static at::Tensor batch_norm(const at::Tensor& x, const BatchNorm& bn) {
    return at::batch_norm(x, bn.weight, bn.bias, bn.running_mean,
                          bn.running_var, /*training=*/false, 0.1, 1e-5,
                          /*cudnn_enabled=*/true);
  }

  at::Tensor pooled(const at::Tensor& input) const {
    at::Tensor x = batch_norm(conv(input, conv1_), bn1_).relu_();
    x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    for (const Bottleneck& block : blocks_) {
      at::Tensor out = batch_norm(conv(x, block.conv1), block.bn1).relu_();
      out = batch_norm(conv(out, block.conv2), block.bn2).relu_();
      out = batch_norm(conv(out, block.conv3), block.bn3);
      const at::Tensor identity =
          block.has_downsample
              ? batch_norm(conv(x, block.downsample), block.downsample_bn)
              : x;
      x = out.add_(identity).relu_();
    }
    return at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  }

  void run(const float* input, std::int64_t batch, std::int64_t height,
           std::int64_t width, float* out, bool logits_wanted) {
    try {
      c10::InferenceMode guard;
      at::Tensor x = at::from_blob(const_cast<float*>(input),
                                   {batch, 3, height, width}, at::kFloat)
                         .to(device_);
      at::Tensor result = pooled(x);
      if (logits_wanted) result = at::linear(result, fc_weight_, fc_bias_);
      result = result.to(at::kCPU).contiguous();
      std::memcpy(out, result.data_ptr<float>(),
                  static_cast<std::size_t>(result.numel()) * sizeof(float));
    } catch (const c10::Error& e) {
      throw Error(
          ErrorKind::kModel,
          "inference failed: " + first_line(e.what_without_backtrace()));
    }
  }

  const Checkpoint* checkpoint_;
  at::Device device_;
  bool use_mkldnn_ = false;
  std::int64_t num_classes_ = 0;
  Conv conv1_;
  BatchNorm bn1_;
  std::vector<Bottleneck> blocks_;
  at::Tensor fc_weight_, fc_bias_;
};

}  // namespace

std::unique_ptr<Model> Model::load(const Checkpoint& checkpoint,
                                   const ModelOptions& options) {
  return std::make_unique<ResNet50>(checkpoint, options);
}

}  // namespace resnet_cli
