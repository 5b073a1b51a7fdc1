// What the training loop feeds the trainer (internal to train.cpp): cached
// pooled features, or images decoded and transformed batch by batch.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "train/train.h"

namespace resnet_cli::detail {

// What makes a feature vector valid: everything but the file itself.
struct FeatureKey {
  std::string weights_sha256;
  std::string arch;
  TransformSpec transform;
  std::string frozen_depth;  // "pooled": the features that feed fc
};

struct FeaturePass {
  // Row i: sample i's features; empty rows for images that failed (their
  // messages in `failed`, in sample order).
  std::vector<std::vector<float>> rows;
  std::vector<std::string> failed;
  std::uint64_t cached = 0;
};

// Each sample's pooled features: from `cache_dir` where a file of the same
// path, size and mtime was seen with the same key, else computed by the
// inference pipeline (`base`, whose weights_file is already resolved) and
// stored. A cache that cannot be written only costs a warning.
FeaturePass pooled_features(
    const std::vector<ImageFolderSample>& samples, const SessionOptions& base,
    const FeatureKey& key, const DecodeOptions& decode,
    const std::filesystem::path& cache_dir,
    const std::function<void(std::uint64_t, std::uint64_t)>& progress,
    const std::atomic<bool>& stop);

// Images of a batch decoded and transformed on `threads` threads: with
// Augment::kNone the evaluation transform, with kFlip that and a horizontal
// flip with probability 0.5, with kStandard RandomResizedCrop(crop) and the
// flip. `rng` draws the augmentation, in sample order. Failures leave their
// image out: `kept` lists the batch positions that made it, `failed` the
// messages.
struct ImageBatch {
  std::vector<float> pixels;  // kept.size() x 3 x crop x crop
  std::vector<std::size_t> kept;
  std::vector<std::string> failed;
};
ImageBatch load_image_batch(const std::vector<const ImageFolderSample*>& batch,
                            const TransformSpec& transform, Augment augment,
                            const DecodeOptions& decode, int threads,
                            std::mt19937_64& rng);

}  // namespace resnet_cli::detail
