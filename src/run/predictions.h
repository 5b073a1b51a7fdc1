// From one image's logits to what a record reports: softmax and top-k.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "run/record.h"

namespace resnet_cli {

// torch.softmax in double: exp(x - max) / sum, shifted by the maximum so that
// no term overflows. Empty for no classes.
std::vector<double> softmax(const float* logits, std::int64_t num_classes);

// The top `k` classes (k clamped to 0..num_classes), best first, ties to the
// lower index, as torch.topk orders them. Scores are softmax probabilities or
// the logits themselves, rounded to float32 (see float_for_json). `labels`
// may be shorter than the class count: missing labels read as the index.
std::vector<Prediction> top_predictions(const float* logits,
                                        std::int64_t num_classes, int k,
                                        OutputType output_type,
                                        const std::vector<std::string>& labels);

// The top `k` of `scores` (a video's mean probabilities), ordered as
// top_predictions orders them, each score rounded to float32.
std::vector<Prediction> top_scores(const std::vector<double>& scores, int k,
                                   const std::vector<std::string>& labels);

// The index of the largest logit (the lower index on a tie); -1 for none.
std::int64_t top_class(const float* logits, std::int64_t num_classes);

// The shortest decimal that reads back as the same float32 ("0.1", not
// "0.100000001"), for text formats.
std::string float_text(float value);

// The shortest decimal that reads back as the same double (a frame's time
// in seconds: "2.7", not "2.7000000000000002").
std::string double_text(double value);

// float_text's value as a double, so that JSON writes it without float noise
// and keeps all of its precision. Non-finite values pass through.
double float_for_json(float value);

}  // namespace resnet_cli
