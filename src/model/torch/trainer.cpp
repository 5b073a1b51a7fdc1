// The trainable ResNet: torchvision's resnet.py as torch::nn modules, so that
// autograd, the optimizers and BatchNorm's train mode are PyTorch's own.
#include "model/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "base/cpu.h"
#include "base/error.h"
#include "base/text.h"
#include "model/model_entry.h"
#include "model/torch/stored_tensor.h"
#include "model/torch/torch_compat.h"
#include "model/torch/torch_device.h"
#include "weights/checkpoint.h"
#include "weights/model_spec.h"

namespace resnet_cli {

namespace {

namespace nn = torch::nn;

// torchvision's bias-free convolutions, as nn::Conv2d computes them, but
// with the weight left uninitialised: the trainer always fills it from the
// checkpoint (check_state_dict requires every weight), and nn::Conv2d's
// kaiming_uniform_ over ResNet50's 23M conv weights took 90 ms a run.
class ConvImpl : public nn::Module {
 public:
  ConvImpl(std::int64_t in, std::int64_t out, std::int64_t kernel,
           std::int64_t stride, std::int64_t padding, std::int64_t groups)
      : stride_(stride), padding_(padding), groups_(groups) {
    weight_ = register_parameter(
        "weight", torch::empty({out, in / groups, kernel, kernel}));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    return torch::conv2d(x, weight_, {}, stride_, padding_, 1, groups_);
  }

 private:
  std::int64_t stride_, padding_, groups_;
  torch::Tensor weight_;
};
TORCH_MODULE(Conv);

Conv conv(std::int64_t in, std::int64_t out, std::int64_t kernel,
          std::int64_t stride, std::int64_t padding, std::int64_t groups = 1) {
  return Conv(in, out, kernel, stride, padding, groups);
}

// torchvision's BatchNorm2d: eps 1e-5, momentum 0.1.
nn::BatchNorm2d batch_norm(std::int64_t channels) {
  return nn::BatchNorm2d(
      nn::BatchNorm2dOptions(channels).eps(1e-5).momentum(0.1));
}

// BasicBlock or Bottleneck, "layerS.B" of the architecture.
class BlockImpl : public nn::Module {
 public:
  BlockImpl(const ArchSpec& arch, int stage, int index, std::int64_t in)
      : bottleneck_(arch.block == BlockType::kBottleneck) {
    const std::int64_t planes = std::int64_t{64} << stage;
    const std::int64_t stride = (stage > 0 && index == 0) ? 2 : 1;
    const std::int64_t width = arch.width(stage);
    const std::int64_t out = planes * arch.expansion();
    if (bottleneck_) {
      conv1_ = register_module("conv1", conv(in, width, 1, 1, 0));
      bn1_ = register_module("bn1", batch_norm(width));
      // ResNet v1.5: the stride is on the 3x3 convolution.
      conv2_ = register_module("conv2",
                               conv(width, width, 3, stride, 1, arch.groups));
      bn2_ = register_module("bn2", batch_norm(width));
      conv3_ = register_module("conv3", conv(width, out, 1, 1, 0));
      bn3_ = register_module("bn3", batch_norm(out));
    } else {
      conv1_ = register_module("conv1", conv(in, planes, 3, stride, 1));
      bn1_ = register_module("bn1", batch_norm(planes));
      conv2_ = register_module("conv2", conv(planes, planes, 3, 1, 1));
      bn2_ = register_module("bn2", batch_norm(planes));
    }
    if (arch.has_downsample(stage, index)) {
      downsample_ = register_module(
          "downsample",
          nn::Sequential(conv(in, out, 1, stride, 0), batch_norm(out)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = bn1_(conv1_(x)).relu();
    out = bn2_(conv2_(out));
    if (bottleneck_) out = bn3_(conv3_(out.relu()));
    const torch::Tensor identity = downsample_ ? downsample_->forward(x) : x;
    return (out + identity).relu();
  }

 private:
  bool bottleneck_;
  Conv conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Block);

class ResNetImpl : public nn::Module {
 public:
  ResNetImpl(const ArchSpec& arch, std::int64_t num_classes) {
    conv1_ = register_module("conv1", conv(3, 64, 7, 2, 3));
    bn1_ = register_module("bn1", batch_norm(64));
    std::int64_t in = 64;
    for (int stage = 0; stage < 4; ++stage) {
      nn::Sequential layer;
      for (int index = 0; index < arch.layers[static_cast<std::size_t>(stage)];
           ++index) {
        layer->push_back(Block(arch, stage, index, in));
        in = (std::int64_t{64} << stage) * arch.expansion();
      }
      layers_[static_cast<std::size_t>(stage)] =
          register_module("layer" + std::to_string(stage + 1), layer);
    }
    fc_ = register_module("fc", nn::Linear(in, num_classes));
  }

  // Runs layers first..last-1 (stem = -1 .. layer4 = 3; 4 adds the pooling).
  torch::Tensor run(torch::Tensor x, int first, int last) {
    for (int part = first; part < last; ++part) {
      if (part < 0) {
        x = torch::max_pool2d(bn1_(conv1_(x)).relu(), 3, 2, 1);
      } else if (part < 4) {
        x = layers_[static_cast<std::size_t>(part)]->forward(x);
      } else {
        x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
      }
    }
    return x;
  }

  nn::Sequential& layer(int stage) {
    return layers_[static_cast<std::size_t>(stage)];
  }
  nn::Linear& fc() { return fc_; }
  void replace_fc(nn::Linear fc) { fc_ = replace_module("fc", fc); }

 private:
  Conv conv1_{nullptr};
  nn::BatchNorm2d bn1_{nullptr};
  std::array<nn::Sequential, 4> layers_{nullptr, nullptr, nullptr, nullptr};
  nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

// One checkpoint entry as stored (a view of its storage's bytes).
at::Tensor stored_tensor(const Checkpoint& checkpoint,
                         const CheckpointTensor& entry) {
  return detail::stored_tensor(checkpoint, entry).view;
}

// Every parameter and buffer of `module`, by state_dict key.
std::map<std::string, torch::Tensor> named_state(const nn::Module& module) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& item : module.named_parameters()) {
    state.emplace(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers()) {
    state.emplace(item.key(), item.value());
  }
  return state;
}

class ResNetTrainer final : public Trainer {
 public:
  ResNetTrainer(const Checkpoint& checkpoint, const TrainerOptions& options)
      : arch_(&choose_architecture(checkpoint, options.arch)),
        options_(options),
        device_(detail::choose_device(options.device, options.tf32)),
        network_(*arch_, options.num_classes) {
    check_state_dict(checkpoint, *arch_);
    at::set_num_threads(options.threads > 0 ? options.threads
                                            : available_cores());
    const std::int64_t stored_classes =
        checkpoint_num_classes(checkpoint, *arch_);
    replaced_fc_ = stored_classes != options.num_classes;
    load(checkpoint);
    if (replaced_fc_) {
      // As `torch.manual_seed(seed); model.fc = nn.Linear(in, K)` does.
      torch::manual_seed(options.seed);
      network_->replace_fc(
          nn::Linear(arch_->feature_size(), options.num_classes));
    }
    // As a script's model.to(device): initialised on the CPU, then moved.
    network_->to(device_);
    choose_trained_parameters();
    make_optimizer();
  }

  std::string architecture() const override { return std::string(arch_->name); }
  std::int64_t feature_size() const override { return arch_->feature_size(); }
  std::int64_t num_classes() const override { return options_.num_classes; }
  bool replaced_fc() const override { return replaced_fc_; }

  BatchResult train_batch(const float* input, bool features, std::int64_t batch,
                          std::int64_t height, std::int64_t width,
                          const std::int64_t* labels) override {
    try {
      const torch::Tensor target =
          torch::from_blob(const_cast<std::int64_t*>(labels), {batch},
                           torch::kLong)
              .to(device_);
      set_train_mode(true);
      const torch::Tensor output =
          forward(wrap(input, features, batch, height, width), features);
      const torch::Tensor loss = nn::functional::cross_entropy(
          output, target,
          nn::functional::CrossEntropyFuncOptions().label_smoothing(
              options_.label_smoothing));
      optimizer_->zero_grad();
      loss.backward();
      optimizer_->step();
      BatchResult result;
      result.loss_sum = loss.item<double>() * static_cast<double>(batch);
      result.correct = output.argmax(1).eq(target).sum().item<std::int64_t>();
      return result;
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kModel,
                  "training step failed: " +
                      detail::first_line(e.what_without_backtrace()));
    }
  }

  void logits(const float* input, bool features, std::int64_t batch,
              std::int64_t height, std::int64_t width, float* out) override {
    try {
      torch::NoGradGuard no_grad;
      set_train_mode(false);
      const torch::Tensor output =
          forward(wrap(input, features, batch, height, width), features)
              .to(torch::kCPU)
              .contiguous();
      std::memcpy(out, output.data_ptr<float>(),
                  static_cast<std::size_t>(output.numel()) * sizeof(float));
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kModel,
                  "evaluation failed: " +
                      detail::first_line(e.what_without_backtrace()));
    }
  }

  void set_learning_rate(double learning_rate) override {
    for (auto& group : optimizer_->param_groups()) {
      group.options().set_lr(learning_rate);
    }
  }

  std::vector<StateDictEntry> state_dict() const override {
    const std::map<std::string, torch::Tensor> state = named_state(*network_);
    const std::vector<ParameterSpec> specs =
        parameter_specs(*arch_, options_.num_classes);
    saved_.clear();
    std::vector<StateDictEntry> entries;
    for (const ParameterSpec& spec : specs) {
      // On the CPU contiguous already (loaded and updated in place): no
      // copy; from a GPU, copied back.
      saved_.push_back(
          state.at(spec.name).detach().to(torch::kCPU).contiguous());
      const torch::Tensor& tensor = saved_.back();
      StateDictEntry entry;
      entry.name = spec.name;
      const std::optional<pickle::ScalarType> type =
          detail::from_aten(tensor.scalar_type());
      if (!type) {
        throw Error(ErrorKind::kModel,
                    spec.name + ": no checkpoint storage holds its type");
      }
      entry.type = *type;
      entry.sizes = tensor.sizes().vec();
      entry.data = tensor.data_ptr();
      entries.push_back(std::move(entry));
    }
    return entries;
  }

  OptimizerState optimizer_state() const override {
    OptimizerState out;
    out.group = hyper_parameters();
    const std::vector<torch::Tensor>& params = trained_parameters();
    steps_.assign(params.size(), 0.0f);
    saved_state_.clear();
    for (std::size_t i = 0; i < params.size(); ++i) {
      out.state.emplace_back();
      const auto found = optimizer_->state().find(state_key(params[i]));
      if (found == optimizer_->state().end()) continue;
      auto& tensors = out.state.back();
      if (options_.optimizer == OptimizerKind::kSgd) {
        const auto& sgd =
            static_cast<const torch::optim::SGDParamState&>(*found->second);
        tensors.push_back(
            state_entry("momentum_buffer", sgd.momentum_buffer()));
        continue;
      }
      const auto& adam =
          static_cast<const torch::optim::AdamWParamState&>(*found->second);
      // PyTorch keeps the step count as a float32 scalar tensor.
      steps_[i] = static_cast<float>(adam.step());
      tensors.push_back(float32_entry("step", {}, &steps_[i]));
      tensors.push_back(state_entry("exp_avg", adam.exp_avg()));
      tensors.push_back(state_entry("exp_avg_sq", adam.exp_avg_sq()));
    }
    return out;
  }

  void load_optimizer_state(const OptimizerState& state) override {
    check_optimizer_kind(state);
    const std::vector<torch::Tensor>& params = trained_parameters();
    if (state.state.size() != params.size()) {
      throw Error(
          ErrorKind::kCheckpoint,
          "the optimizer state is of " + std::to_string(state.state.size()) +
              " parameters; this run trains " + std::to_string(params.size()));
    }
    torch::NoGradGuard no_grad;
    optimizer_->state().clear();
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (state.state[i].empty()) continue;
      const auto tensor = [&](const char* name) {
        // Onto this run's device, whichever device saved it.
        return loaded_tensor(state.state[i], name, params[i]).to(device_);
      };
      if (options_.optimizer == OptimizerKind::kSgd) {
        auto sgd = std::make_unique<torch::optim::SGDParamState>();
        sgd->momentum_buffer(tensor("momentum_buffer"));
        optimizer_->state()[state_key(params[i])] = std::move(sgd);
        continue;
      }
      auto adam = std::make_unique<torch::optim::AdamWParamState>();
      adam->step(static_cast<std::int64_t>(
          loaded_tensor(state.state[i], "step", torch::Tensor())
              .item<double>()));
      adam->exp_avg(tensor("exp_avg"));
      adam->exp_avg_sq(tensor("exp_avg_sq"));
      optimizer_->state()[state_key(params[i])] = std::move(adam);
    }
  }

 private:
  // Copies every entry of the checkpoint into the network (fc only when it
  // is kept); entries absent from old files (num_batches_tracked) stay 0.
  void load(const Checkpoint& checkpoint) {
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : named_state(*network_)) {
      if (replaced_fc_ && name.rfind("fc.", 0) == 0) continue;
      const CheckpointTensor* entry = checkpoint.find(name);
      if (!entry) continue;
      try {
        tensor.copy_(stored_tensor(checkpoint, *entry));
      } catch (const c10::Error& e) {
        throw Error(ErrorKind::kCheckpoint,
                    checkpoint.path().string() + ": cannot load " + name +
                        ": " + detail::first_line(e.what_without_backtrace()));
      }
    }
  }

  // The first part that trains: -1 (stem) for all, 3 for layer4, 4 for fc.
  int first_trained() const {
    switch (options_.part) {
      case TrainedPart::kAll:
        return -1;
      case TrainedPart::kLayer4:
        return 3;
      case TrainedPart::kFc:
        break;
    }
    return 5;
  }

  void choose_trained_parameters() {
    for (auto& parameter : network_->parameters()) {
      parameter.set_requires_grad(options_.part == TrainedPart::kAll);
    }
    if (options_.part == TrainedPart::kLayer4) {
      for (auto& parameter : network_->layer(3)->parameters()) {
        parameter.set_requires_grad(true);
      }
    }
    for (auto& parameter : network_->fc()->parameters()) {
      parameter.set_requires_grad(true);
    }
  }

  void make_optimizer() {
    std::vector<torch::Tensor> trained;
    for (const auto& parameter : network_->parameters()) {
      if (parameter.requires_grad()) trained.push_back(parameter);
    }
    if (options_.optimizer == OptimizerKind::kSgd) {
      optimizer_ = std::make_unique<torch::optim::SGD>(
          trained, torch::optim::SGDOptions(options_.learning_rate)
                       .momentum(options_.momentum)
                       .weight_decay(options_.weight_decay));
    } else {
      optimizer_ = std::make_unique<torch::optim::AdamW>(
          trained, torch::optim::AdamWOptions(options_.learning_rate)
                       .weight_decay(options_.weight_decay));
    }
  }

  // The trained parameters, in model.parameters() order: the optimizer's
  // one group, whose indices optimizer.pt's state is keyed by.
  const std::vector<torch::Tensor>& trained_parameters() const {
    return optimizer_->param_groups().at(0).params();
  }

  // What LibTorch's optimizers key a parameter's state by.
  static std::string state_key(const torch::Tensor& parameter) {
    return c10::guts::to_string(parameter.unsafeGetTensorImpl());
  }

  // A state tensor as an entry of optimizer.pt (on the CPU contiguous
  // already, made by the optimizer as zeros_like or clone of a contiguous
  // parameter: no copy; from a GPU, copied back).
  StateDictEntry state_entry(const char* name,
                             const torch::Tensor& tensor) const {
    saved_state_.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const torch::Tensor& kept = saved_state_.back();
    return float32_entry(name, kept.sizes().vec(), kept.data_ptr());
  }

  // A float32 tensor of optimizer.pt over `data` (kept alive by the caller).
  static StateDictEntry float32_entry(const char* name,
                                      std::vector<std::int64_t> sizes,
                                      const void* data) {
    StateDictEntry entry;
    entry.name = name;
    entry.type = pickle::ScalarType::kFloat32;
    entry.sizes = std::move(sizes);
    entry.data = data;
    return entry;
  }

  // torch.optim's hyper-parameters, in its state_dict's key order (PyTorch
  // 1.13), with the learning rate now set and the schedule's initial_lr.
  std::vector<std::pair<std::string, GroupValue>> hyper_parameters() const {
    const double lr = optimizer_->param_groups().at(0).options().get_lr();
    if (options_.optimizer == OptimizerKind::kSgd) {
      return {{"lr", lr},
              {"momentum", options_.momentum},
              {"dampening", std::int64_t{0}},
              {"weight_decay", options_.weight_decay},
              {"nesterov", false},
              {"maximize", false},
              {"foreach", std::monostate{}},
              {"differentiable", false},
              {"initial_lr", options_.learning_rate}};
    }
    return {{"lr", lr},
            {"betas", std::vector<double>{0.9, 0.999}},
            {"eps", 1e-8},
            {"weight_decay", options_.weight_decay},
            {"amsgrad", false},
            {"foreach", std::monostate{}},
            {"maximize", false},
            {"capturable", false},
            {"initial_lr", options_.learning_rate}};
  }

  void check_optimizer_kind(const OptimizerState& state) const {
    const bool sgd = options_.optimizer == OptimizerKind::kSgd;
    for (const auto& [name, value] : state.group) {
      if (name == (sgd ? "betas" : "nesterov")) {
        throw Error(ErrorKind::kCheckpoint,
                    std::string("the optimizer state is ") +
                        (sgd ? "AdamW's" : "SGD's") + "; this run uses " +
                        (sgd ? "sgd" : "adamw") + " (--optimizer)");
      }
    }
  }

  // State tensor `name` of a parameter, float32 and shaped as `parameter`
  // (any shape with one element when `parameter` is undefined: AdamW's
  // step), copied out of the file. (Not numel(): the module links nothing
  // of the writer's file code.)
  static torch::Tensor loaded_tensor(const std::vector<StateDictEntry>& state,
                                     const std::string& name,
                                     const torch::Tensor& parameter) {
    for (const StateDictEntry& entry : state) {
      if (entry.name != name) continue;
      const bool fits =
          parameter.defined()
              ? entry.sizes == parameter.sizes().vec()
              : std::all_of(entry.sizes.begin(), entry.sizes.end(),
                            [](std::int64_t n) { return n == 1; });
      if (entry.type != pickle::ScalarType::kFloat32 || !fits) {
        throw Error(ErrorKind::kCheckpoint, "the optimizer state's '" + name +
                                                "' does not fit its parameter");
      }
      return torch::from_blob(const_cast<void*>(entry.data), entry.sizes,
                              torch::kFloat)
          .clone();
    }
    throw Error(ErrorKind::kCheckpoint,
                "the optimizer state of a parameter has no '" + name + "'");
  }

  // model.eval(), then train() on the trained blocks unless --freeze-bn:
  // frozen blocks always use their running statistics.
  void set_train_mode(bool training) {
    network_->eval();
    if (!training || options_.freeze_bn) return;
    if (options_.part == TrainedPart::kAll) network_->train();
    if (options_.part == TrainedPart::kLayer4) network_->layer(3)->train();
  }

  // The caller's batch on the network's device.
  torch::Tensor wrap(const float* input, bool features, std::int64_t batch,
                     std::int64_t height, std::int64_t width) const {
    float* data = const_cast<float*>(input);
    const torch::Tensor host =
        features
            ? torch::from_blob(data, {batch, height}, torch::kFloat)
            : torch::from_blob(data, {batch, 3, height, width}, torch::kFloat);
    return host.to(device_);
  }

  // Logits, float32; the frozen part runs without gradients.
  torch::Tensor forward(torch::Tensor x, bool features) {
    const Autocast autocast(options_.bf16, device_.type());
    return forward_layers(std::move(x), features).to(torch::kFloat);
  }

  // torch.autocast(device, dtype=torch.bfloat16) while it lives, or nothing.
  class Autocast {
   public:
    Autocast(bool on, at::DeviceType device) : on_(on), device_(device) {
      if (on_) detail::set_autocast(device_, true, at::kBFloat16);
    }
    ~Autocast() {
      if (!on_) return;
      detail::set_autocast(device_, false, at::kBFloat16);
      at::autocast::clear_cache();
    }
    Autocast(const Autocast&) = delete;
    Autocast& operator=(const Autocast&) = delete;

   private:
    bool on_;
    at::DeviceType device_;
  };

  torch::Tensor forward_layers(torch::Tensor x, bool features) {
    int first = -1;
    if (features) {
      if (options_.part != TrainedPart::kFc) {
        throw Error(ErrorKind::kModel,
                    "features given to a network that trains its trunk");
      }
      first = 5;
    } else {
      const int frozen_until = std::min(first_trained(), 5);
      torch::NoGradGuard no_grad;
      x = network_->run(x, -1, std::min(frozen_until, 5));
      first = frozen_until;
    }
    x = network_->run(x, first, 5);
    return network_->fc()->forward(x);
  }

  const ArchSpec* arch_;
  // What the last state_dict() and optimizer_state() point into.
  mutable std::vector<torch::Tensor> saved_;
  mutable std::vector<torch::Tensor> saved_state_;
  mutable std::vector<float> steps_;
  TrainerOptions options_;
  at::Device device_;
  ResNet network_;
  bool replaced_fc_ = false;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
};

}  // namespace

std::unique_ptr<Trainer> detail::make_trainer(const Checkpoint& checkpoint,
                                              const TrainerOptions& options) {
  try {
    return std::make_unique<ResNetTrainer>(checkpoint, options);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kModel,
                checkpoint.path().string() + ": cannot prepare training: " +
                    detail::first_line(e.what_without_backtrace()));
  }
}

}  // namespace resnet_cli
