#include "run/predictions.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <numeric>

namespace resnet_cli {

std::vector<double> softmax(const float* logits, std::int64_t num_classes) {
  std::vector<double> probabilities(static_cast<std::size_t>(num_classes));
  if (num_classes <= 0) return probabilities;
  const float top = *std::max_element(logits, logits + num_classes);
  double normalizer = 0;
  for (std::int64_t i = 0; i < num_classes; ++i) {
    probabilities[static_cast<std::size_t>(i)] =
        std::exp(static_cast<double>(logits[i]) - top);
    normalizer += probabilities[static_cast<std::size_t>(i)];
  }
  for (double& probability : probabilities) probability /= normalizer;
  return probabilities;
}

std::vector<Prediction> top_predictions(
    const float* logits, std::int64_t num_classes, int k,
    OutputType output_type, const std::vector<std::string>& labels) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_classes));
  std::iota(order.begin(), order.end(), 0);
  const auto count = std::min<std::int64_t>(std::max(k, 0), num_classes);
  std::partial_sort(order.begin(), order.begin() + count, order.end(),
                    [logits](std::int64_t a, std::int64_t b) {
                      return logits[a] > logits[b] ||
                             (logits[a] == logits[b] && a < b);
                    });
  std::vector<double> probabilities;
  if (output_type == OutputType::kProbability) {
    probabilities = softmax(logits, num_classes);
  }
  std::vector<Prediction> predictions;
  for (std::int64_t rank = 0; rank < count; ++rank) {
    const std::int64_t index = order[static_cast<std::size_t>(rank)];
    Prediction prediction;
    prediction.rank = static_cast<int>(rank + 1);
    prediction.index = index;
    prediction.label = index < static_cast<std::int64_t>(labels.size())
                           ? labels[static_cast<std::size_t>(index)]
                           : std::to_string(index);
    const float score =
        probabilities.empty()
            ? logits[index]
            : static_cast<float>(
                  probabilities[static_cast<std::size_t>(index)]);
    prediction.score = float_for_json(score);
    predictions.push_back(std::move(prediction));
  }
  return predictions;
}

std::string float_text(float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

double float_for_json(float value) {
  if (!std::isfinite(value)) return value;
  return std::strtod(float_text(value).c_str(), nullptr);
}

}  // namespace resnet_cli
