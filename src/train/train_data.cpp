#include "train/train_data.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include "base/error.h"
#include "base/file_util.h"
#include "image/preprocess.h"
#include "run/image_step.h"
#include "run/pipeline.h"

namespace resnet_cli::detail {

namespace {

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::string describe(const TransformSpec& t) {
  char text[256];
  std::snprintf(text, sizeof text, "%d %d %d %.9g %.9g %.9g %.9g %.9g %.9g",
                t.resize_size, t.crop_size, static_cast<int>(t.interpolation),
                t.mean[0], t.mean[1], t.mean[2], t.std[0], t.std[1], t.std[2]);
  return text;
}

// The cache file of one image, or empty when the image cannot be stat'ed
// (the pipeline then reports why).
std::filesystem::path cache_file(const std::filesystem::path& cache_dir,
                                 const std::string& path,
                                 const FeatureKey& key) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).string();
  const std::string text = "resnet-cli features 1\n" + absolute + "\n" +
                           std::to_string(info.st_size) + "\n" +
                           std::to_string(info.st_mtim.tv_sec) + "." +
                           std::to_string(info.st_mtim.tv_nsec) + "\n" +
                           key.weights_sha256 + "\n" + key.arch + "\n" +
                           describe(key.transform) + "\n" + key.frozen_depth;
  return cache_dir / (sha256_hex(text) + ".f32");
}

bool read_cached(const std::filesystem::path& file, std::vector<float>& row) {
  if (file.empty()) return false;
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const std::streamoff size = in.tellg();
  if (size <= 0 || size % 4 != 0) return false;
  row.resize(static_cast<std::size_t>(size) / 4);
  in.seekg(0);
  return static_cast<bool>(in.read(reinterpret_cast<char*>(row.data()), size));
}

void store_cached(const std::filesystem::path& file,
                  const std::vector<float>& row, bool& warned) {
  if (file.empty()) return;
  try {
    std::filesystem::create_directories(file.parent_path());
    write_file_atomically(
        file, std::string_view(reinterpret_cast<const char*>(row.data()),
                               row.size() * sizeof(float)));
  } catch (const std::exception& e) {
    if (!warned) spdlog::warn("feature cache not written: {}", e.what());
    warned = true;
  }
}

}  // namespace

FeaturePass pooled_features(
    const std::vector<ImageFolderSample>& samples, const SessionOptions& base,
    const FeatureKey& key, const DecodeOptions& decode,
    const std::filesystem::path& cache_dir,
    const std::function<void(std::uint64_t, std::uint64_t)>& progress,
    const std::atomic<bool>& stop) {
  FeaturePass pass;
  pass.rows.resize(samples.size());
  std::vector<std::filesystem::path> files(samples.size());
  InputOptions missing;
  std::vector<std::size_t> missing_index;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    files[i] = cache_file(cache_dir, samples[i].path, key);
    if (read_cached(files[i], pass.rows[i])) {
      ++pass.cached;
    } else {
      missing.paths.push_back(samples[i].path);
      missing_index.push_back(i);
    }
  }
  std::uint64_t done = pass.cached;
  if (progress) progress(done, samples.size());
  if (missing_index.empty()) return pass;

  SessionOptions options = base;
  options.read_labels = false;
  const Session session(options);
  InputScanner scanner(missing);
  std::size_t next = 0;
  bool warned = false;
  std::vector<std::pair<std::size_t, std::string>> failures;
  run_pipeline(
      scanner, session.job(OutputType::kEmbedding, 1, decode),
      session.plan(false),
      [&](Record&& record) {
        const std::size_t i = missing_index.at(next++);
        if (record.error) {
          failures.emplace_back(i, record.error->message);
        } else {
          pass.rows[i] = std::move(record.embedding);
          store_cached(files[i], pass.rows[i], warned);
        }
        if (progress) progress(++done, samples.size());
      },
      stop);
  for (auto& failure : failures) pass.failed.push_back(failure.second);
  return pass;
}

namespace {

// Uniform draws for one image's augmentation, made in sample order.
constexpr int kAttempts = 10;  // torchvision's RandomResizedCrop
constexpr int kDraws = kAttempts * 4 + 1;

// transforms.RandomResizedCrop.get_params: a box of 8%-100% of the area and
// aspect ratio 3/4-4/3, ten tries, else the whole image clamped to the
// ratio range, centred.
void random_box(int width, int height, const double* draws, int& left, int& top,
                int& box_width, int& box_height) {
  const double area = static_cast<double>(width) * height;
  const double log_low = std::log(3.0 / 4.0), log_high = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const double* d = draws + attempt * 4;
    const double target = area * (0.08 + d[0] * (1.0 - 0.08));
    const double ratio = std::exp(log_low + d[1] * (log_high - log_low));
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      top = static_cast<int>(d[2] * (height - h + 1));
      left = static_cast<int>(d[3] * (width - w + 1));
      box_width = w;
      box_height = h;
      return;
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  box_width = width;
  box_height = height;
  if (in_ratio < 3.0 / 4.0) {
    box_height = static_cast<int>(std::lround(width / (3.0 / 4.0)));
  } else if (in_ratio > 4.0 / 3.0) {
    box_width = static_cast<int>(std::lround(height * (4.0 / 3.0)));
  }
  top = (height - box_height) / 2;
  left = (width - box_width) / 2;
}

RgbImage random_resized_crop(const RgbImage& image, int size,
                             Interpolation interpolation, const double* draws) {
  int left = 0, top = 0, w = image.width, h = image.height;
  random_box(image.width, image.height, draws, left, top, w, h);
  RgbImage box;
  box.width = w;
  box.height = h;
  box.pixels.resize(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    std::copy_n(image.row(top + y) + static_cast<std::size_t>(left) * 3,
                static_cast<std::size_t>(w) * 3, box.row(y));
  }
  return pil_resize(box, size, size, interpolation);
}

void flip_horizontally(RgbImage& image) {
  for (int y = 0; y < image.height; ++y) {
    std::uint8_t* row = image.row(y);
    for (int left = 0, right = image.width - 1; left < right; ++left, --right) {
      std::swap_ranges(row + left * 3, row + left * 3 + 3, row + right * 3);
    }
  }
}

// torchvision's training transforms on one image: RandomResizedCrop
// (Augment::kStandard) or the weights' resize and center crop, then
// RandomHorizontalFlip (unless Augment::kNone), each drawn from `draws`.
class TrainingCrop final : public CropPolicy {
 public:
  TrainingCrop(Augment augment, const double* draws)
      : augment_(augment), draws_(draws) {}

  std::optional<RgbImage> crop(const RgbImage& image,
                               const TransformSpec& transform) const override {
    if (augment_ != Augment::kStandard) return std::nullopt;
    return random_resized_crop(image, transform.crop_size,
                               transform.interpolation, draws_);
  }

  void finish(RgbImage& crop) const override {
    if (augment_ != Augment::kNone && draws_[kDraws - 1] < 0.5) {
      flip_horizontally(crop);
    }
  }

 private:
  Augment augment_;
  const double* draws_;
};

void transform_one(const ImageFolderSample& sample,
                   const TransformSpec& transform, Augment augment,
                   const DecodeOptions& decode, const double* draws,
                   float* chw) {
  const TrainingCrop policy(augment, draws);
  prepare_input(InputBytes{sample.path}, decode, transform, chw, &policy);
}

}  // namespace

ImageBatch load_image_batch(const std::vector<const ImageFolderSample*>& batch,
                            const TransformSpec& transform, Augment augment,
                            const DecodeOptions& decode, int threads,
                            std::mt19937_64& rng) {
  const std::size_t image_size =
      3 * static_cast<std::size_t>(transform.crop_size) * transform.crop_size;
  std::vector<double> draws(batch.size() * kDraws);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  if (augment != Augment::kNone) {
    for (double& draw : draws) draw = uniform(rng);
  }
  std::vector<float> pixels(batch.size() * image_size);
  std::vector<std::string> errors(batch.size());
  const auto work = [&](std::size_t first, std::size_t step) {
    for (std::size_t i = first; i < batch.size(); i += step) {
      try {
        transform_one(*batch[i], transform, augment, decode,
                      draws.data() + i * kDraws,
                      pixels.data() + i * image_size);
      } catch (const Error& e) {
        if (!is_input_error(e.kind())) throw;
        errors[i] = e.what();
      }
    }
  };
  const std::size_t count = static_cast<std::size_t>(std::max(1, threads));
  std::vector<std::thread> workers;
  std::vector<std::exception_ptr> thrown(count);
  for (std::size_t t = 1; t < count; ++t) {
    workers.emplace_back([&, t] {
      try {
        work(t, count);
      } catch (...) {
        thrown[t] = std::current_exception();
      }
    });
  }
  work(0, count);
  for (auto& worker : workers) worker.join();
  for (const auto& error : thrown) {
    if (error) std::rethrow_exception(error);
  }
  ImageBatch result;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!errors[i].empty()) {
      result.failed.push_back(errors[i]);
      continue;
    }
    result.pixels.insert(
        result.pixels.end(), pixels.begin() + static_cast<long>(i * image_size),
        pixels.begin() + static_cast<long>((i + 1) * image_size));
    result.kept.push_back(i);
  }
  return result;
}

}  // namespace resnet_cli::detail
