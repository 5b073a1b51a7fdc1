// The trainable network, on the model side of the module boundary: torch.nn
// modules laid out as torchvision's resnet.py lays them out, loaded from a
// checkpoint, trained one batch at a time exactly as a PyTorch script trains
// them (the same optimizer, loss and BatchNorm semantics), and saved as
// torch.save(model.state_dict()) saves them. This header keeps LibTorch out
// of its users; train.h drives it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"
#include "weights/optimizer_state.h"
#include "weights/state_dict_writer.h"

namespace resnet_cli {

// What trains (--train): fc alone, layer4 and fc, or the whole network.
enum class TrainedPart { kFc, kLayer4, kAll };

template <>
struct EnumNames<TrainedPart> {
  static constexpr std::string_view option = "--train";
  static constexpr std::array<EnumName<TrainedPart>, 3> names{{
      {"fc", TrainedPart::kFc},
      {"layer4", TrainedPart::kLayer4},
      {"all", TrainedPart::kAll},
  }};
};

enum class OptimizerKind { kSgd, kAdamW };

template <>
struct EnumNames<OptimizerKind> {
  static constexpr std::string_view option = "--optimizer";
  static constexpr std::array<EnumName<OptimizerKind>, 2> names{{
      {"sgd", OptimizerKind::kSgd},
      {"adamw", OptimizerKind::kAdamW},
  }};
};

struct TrainerOptions {
  // As ModelOptions::arch: the architecture the checkpoint must be; empty:
  // whichever its keys describe.
  std::string arch;
  // Outputs of fc. A checkpoint whose fc has as many is continued from;
  // otherwise fc is replaced by a new torch.nn.Linear initialised from
  // `seed` (torch.manual_seed(seed) just before it is made).
  std::int64_t num_classes = 0;
  std::uint64_t seed = 0;
  TrainedPart part = TrainedPart::kFc;
  // torch.optim.SGD(momentum=0.9) or torch.optim.AdamW (betas 0.9, 0.999,
  // eps 1e-8), over the trained parameters (biases and BatchNorm's too).
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double learning_rate = 0.01;
  double momentum = 0.9;  // SGD only
  double weight_decay = 1e-4;
  // torch.nn.CrossEntropyLoss(label_smoothing=...), mean over the batch.
  double label_smoothing = 0;
  // BatchNorm of trained blocks in eval mode (running statistics kept).
  bool freeze_bn = false;
  int threads = 0;  // LibTorch intra-op threads; 0: one per available core
  // "cpu", "cuda" or "cuda:N" (device.h): where the network, its gradients
  // and the optimizer's state live. Inputs are copied there each batch;
  // state_dict() and the optimizer's bytes are read back to the CPU, so
  // that what is saved loads anywhere.
  std::string device = "cpu";
  // CUDA: cuDNN and cuBLAS may use TF32 (off: PyTorch's fp32 with TF32 off).
  bool tf32 = false;
  // Forward passes under torch.autocast(device, dtype=torch.bfloat16), as a
  // PyTorch script's mixed precision: weights, gradients, the optimizer's
  // state and the logits stay float32.
  bool bf16 = false;
};

struct BatchResult {
  double loss_sum = 0;       // the batch's mean loss times its size
  std::int64_t correct = 0;  // images whose top logit is their label
};

class Trainer {
 public:
  virtual ~Trainer() = default;

  // model_spec.h's builder name, e.g. "resnet50".
  virtual std::string architecture() const = 0;
  // Values of the pooled features that feed fc: 512 or 2048.
  virtual std::int64_t feature_size() const = 0;
  virtual std::int64_t num_classes() const = 0;
  // Whether fc was replaced (false: continued from the checkpoint's).
  virtual bool replaced_fc() const = 0;

  // One optimizer step on a batch; `labels` holds `batch` class indices.
  // With `features` (TrainedPart::kFc only) `input` is batch x
  // feature_size() pooled features; otherwise batch x 3 x height x width
  // normalized images, which the frozen part runs in eval mode without
  // gradients. Throws Error(kModel) when LibTorch fails.
  virtual BatchResult train_batch(const float* input, bool features,
                                  std::int64_t batch, std::int64_t height,
                                  std::int64_t width,
                                  const std::int64_t* labels) = 0;

  // Logits (batch x num_classes()) in eval mode, as model.eval() computes
  // them; the input as for train_batch.
  virtual void logits(const float* input, bool features, std::int64_t batch,
                      std::int64_t height, std::int64_t width, float* out) = 0;

  // The optimizer's learning rate from now on (schedules set it per epoch).
  virtual void set_learning_rate(double learning_rate) = 0;

  // model.state_dict(): the whole network in torchvision's key order,
  // num_batches_tracked included, so that write_state_dict gives a file that
  // load_state_dict(torch.load(f), strict=True) accepts. The entries point
  // into the trainer's own tensors: valid until it next trains or is
  // destroyed.
  virtual std::vector<StateDictEntry> state_dict() const = 0;

  // optimizer.state_dict() as torch.optim.SGD or AdamW gives it
  // (optimizer_state.h: momentum buffers, AdamW's steps and moments, the
  // hyper-parameters with the learning rate set last), over the trained
  // parameters in model.parameters() order. The entries point into the
  // trainer's own tensors: valid until it next trains or is destroyed.
  virtual OptimizerState optimizer_state() const = 0;
  // Continues from `state`: what optimizer_state gave, or what PyTorch's
  // optimizer.state_dict() holds for the same parameters. Throws
  // Error(kCheckpoint) when it is another optimizer's, or its tensors do not
  // fit the trained parameters.
  virtual void load_optimizer_state(const OptimizerState& state) = 0;
};

}  // namespace resnet_cli
