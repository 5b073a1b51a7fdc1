// One input's result: its predictions or embedding when it worked, its error
// when it did not. Every input gives exactly one record.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"
#include "base/error.h"

namespace resnet_cli {

// What a record carries for an image that worked.
enum class OutputType { kProbability, kLogit, kEmbedding };

template <>
struct EnumNames<OutputType> {
  static constexpr std::string_view option = "--output-type";
  static constexpr std::array<EnumName<OutputType>, 3> names{{
      {"prob", OutputType::kProbability},
      {"logit", OutputType::kLogit},
      {"embedding", OutputType::kEmbedding},
  }};
};

struct Prediction {
  int rank = 0;            // 1 = best
  std::int64_t index = 0;  // class index in the model's output
  std::string label;
  double score = 0;  // probability (softmax) or logit
};

struct RecordError {
  ErrorKind kind = ErrorKind::kDecode;
  std::string message;  // one line naming the input
};

struct Record {
  std::string path;  // as the user gave it ("-" for stdin), any bytes
  std::vector<Prediction> predictions;
  std::vector<float> embedding;  // --output-type embedding
  std::optional<RecordError> error;
};

}  // namespace resnet_cli
