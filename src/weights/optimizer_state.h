// optimizer.pt: a torch.optim optimizer's state as
// torch.save(optimizer.state_dict()) writes it, and read back.
//
// PyTorch 1.13's state_dict() is {"state": {index: {name: tensor}},
// "param_groups": [{hyper-parameter: value, ..., "params": [0, 1, ...]}]}:
// a parameter is its index in the group's parameter list (the trained
// parameters in model.parameters() order), one without state yet is absent
// from "state". torch.optim.SGD's state is {"momentum_buffer": tensor},
// AdamW's {"step": float32 scalar tensor, "exp_avg": ..., "exp_avg_sq": ...}.
// The file loads into the optimizer with optimizer.load_state_dict(
// torch.load(path)); tests/oracle/train_parity.py does, and trains on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "weights/state_dict_writer.h"

namespace resnet_cli {

// A hyper-parameter's value as Python holds it: None, bool, int, float or a
// tuple of floats (AdamW's betas).
using GroupValue = std::variant<std::monostate, bool, std::int64_t, double,
                                std::vector<double>>;

struct OptimizerState {
  // One parameter group (resnet-cli's optimizers have one): the
  // hyper-parameters in torch.optim's key order, then "params".
  std::vector<std::pair<std::string, GroupValue>> group;
  // Per parameter of the group, its named state tensors (C-contiguous,
  // little-endian); empty for a parameter without state. Writing reads the
  // bytes during the call; read_optimizer_state's point into its file.
  std::vector<std::vector<StateDictEntry>> state;
  // Keeps what read_optimizer_state's entries point to alive.
  std::shared_ptr<const void> owner;

  // The group's number `name`, or throws Error(kCheckpoint).
  double number(const std::string& name) const;
};

// Writes `state` to `file` (not committed); throws as write_state_dict does.
void write_optimizer_state(AtomicFile& file, const OptimizerState& state);

// Reads a file write_optimizer_state (or PyTorch's torch.save of a one-group
// optimizer state_dict) wrote. Throws Error(kCheckpoint) naming the file
// when it is not one (a TorchScript archive from before resnet-cli wrote
// this format included: that says so).
OptimizerState read_optimizer_state(const std::filesystem::path& path);

}  // namespace resnet_cli
