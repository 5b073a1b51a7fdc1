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

namespace {

// Indices of the `k` largest values, best first, ties to the lower index, as
// torch.topk orders them.
template <typename T>
std::vector<std::int64_t> top_order(const T* values, std::int64_t count,
                                    int k) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  const auto kept = std::min<std::int64_t>(std::max(k, 0), count);
  std::partial_sort(order.begin(), order.begin() + kept, order.end(),
                    [values](std::int64_t a, std::int64_t b) {
                      return values[a] > values[b] ||
                             (values[a] == values[b] && a < b);
                    });
  order.resize(static_cast<std::size_t>(kept));
  return order;
}

Prediction ranked(std::size_t rank, std::int64_t index, float score,
                  const std::vector<std::string>& labels) {
  Prediction prediction;
  prediction.rank = static_cast<int>(rank + 1);
  prediction.index = index;
  prediction.label = index < static_cast<std::int64_t>(labels.size())
                         ? labels[static_cast<std::size_t>(index)]
                         : std::to_string(index);
  prediction.score = float_for_json(score);
  return prediction;
}

}  // namespace

std::vector<Prediction> top_predictions(
    const float* logits, std::int64_t num_classes, int k,
    OutputType output_type, const std::vector<std::string>& labels) {
  const std::vector<std::int64_t> order = top_order(logits, num_classes, k);
  std::vector<double> probabilities;
  if (output_type == OutputType::kProbability) {
    probabilities = softmax(logits, num_classes);
  }
  std::vector<Prediction> predictions;
  for (std::size_t rank = 0; rank < order.size(); ++rank) {
    const std::int64_t index = order[rank];
    const float score =
        probabilities.empty()
            ? logits[index]
            : static_cast<float>(
                  probabilities[static_cast<std::size_t>(index)]);
    predictions.push_back(ranked(rank, index, score, labels));
  }
  return predictions;
}

std::vector<Prediction> top_scores(const std::vector<double>& scores, int k,
                                   const std::vector<std::string>& labels) {
  const std::vector<std::int64_t> order =
      top_order(scores.data(), static_cast<std::int64_t>(scores.size()), k);
  std::vector<Prediction> predictions;
  for (std::size_t rank = 0; rank < order.size(); ++rank) {
    const auto index = order[rank];
    predictions.push_back(ranked(
        rank, index,
        static_cast<float>(scores[static_cast<std::size_t>(index)]), labels));
  }
  return predictions;
}

std::int64_t top_class(const float* logits, std::int64_t num_classes) {
  const std::vector<std::int64_t> order = top_order(logits, num_classes, 1);
  return order.empty() ? -1 : order.front();
}

std::string double_text(double value) {
  char buffer[40];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
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
