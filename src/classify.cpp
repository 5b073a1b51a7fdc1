#include "resnet_cli/classify.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <new>
#include <ostream>

#include "resnet_cli/checkpoint.h"
#include "resnet_cli/error.h"
#include "resnet_cli/file_util.h"

namespace resnet_cli {

namespace {

RgbImage decode_input(const std::string& input, const DecodeOptions& options) {
  if (input == "-") {
    const std::vector<std::uint8_t> bytes = read_stdin();
    return decode_image_bytes(bytes.data(), bytes.size(), "-", options);
  }
  return decode_image_file(input, options);
}

std::vector<std::string> load_labels(const std::string& labels_file,
                                     std::int64_t num_classes) {
  if (labels_file.empty()) {
    if (num_classes !=
        static_cast<std::int64_t>(imagenet_categories().size())) {
      spdlog::warn(
          "the model has {} classes, not ImageNet's 1000; labels are class "
          "indices (give names with --labels FILE)",
          num_classes);
      return {};
    }
    return imagenet_categories();
  }
  std::vector<std::string> labels = read_labels_file(labels_file);
  if (static_cast<std::int64_t>(labels.size()) != num_classes) {
    throw Error(ErrorKind::kUsage,
                labels_file + ": has " + std::to_string(labels.size()) +
                    " labels but the model has " + std::to_string(num_classes) +
                    " classes");
  }
  return labels;
}

// --verify: torch.hub trusts a cached file forever; this re-hashes it.
void verify_weights_file(const std::filesystem::path& path) {
  const HashCheck check = check_file_hash(path);
  if (!check.has_prefix()) {
    spdlog::warn(
        "{}: --verify: its name carries no hash to check against (sha256 {})",
        path.string(), check.sha256);
    return;
  }
  if (!check.matches()) {
    throw Error(ErrorKind::kWeights,
                path.string() + ": SHA-256 " + check.sha256 +
                    " does not start with " + check.expected_prefix +
                    ", the hash in its name: the file is damaged or not what "
                    "its name says (delete it to download it again)");
  }
  spdlog::info("{}: sha256 {} verified", path.string(), check.sha256);
}

// The cached file for `url`, downloaded into the cache first when missing.
std::filesystem::path fetch_into_cache(const std::string& what,
                                       const std::string& url,
                                       const std::filesystem::path& cached,
                                       const FetchOptions& fetch) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(cached, ec)) {
    if (fetch.verify) verify_weights_file(cached);
    return cached;
  }
  if (fetch.offline) {
    throw Error(ErrorKind::kWeights,
                what + " are not cached at " + cached.string() +
                    " and downloads are off (--offline, RESNET_CLI_OFFLINE); "
                    "download " +
                    url +
                    " to that path (as torch.hub does), or pass "
                    "--weights-file FILE");
  }
  try {
    download_file(url, cached,
                  hash_prefix_from_file_name(cached.filename().string()),
                  fetch.download);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDownload) throw;
    throw Error(ErrorKind::kDownload,
                what + " are not cached at " + cached.string() + " and " +
                    e.what() +
                    "; put the file at that path (as torch.hub does), or "
                    "pass --weights-file FILE");
  }
  return cached;
}

}  // namespace

TransformSpec effective_transform(const WeightsInfo& weights,
                                  const TransformOverrides& overrides) {
  TransformSpec spec = weights.transforms;
  if (overrides.resize_size) spec.resize_size = *overrides.resize_size;
  if (overrides.crop_size) spec.crop_size = *overrides.crop_size;
  if (overrides.interpolation) spec.interpolation = *overrides.interpolation;
  if (overrides.mean) spec.mean = *overrides.mean;
  if (overrides.std) spec.std = *overrides.std;
  if (spec.resize_size < 1 || spec.resize_size > 16384) {
    throw Error(ErrorKind::kUsage, "--resize must be between 1 and 16384");
  }
  if (spec.crop_size < 1 || spec.crop_size > 4096) {
    throw Error(ErrorKind::kUsage, "--crop must be between 1 and 4096");
  }
  for (float value : spec.std) {
    if (!(value != 0.0f))
      throw Error(ErrorKind::kUsage, "--std values must not be 0");
  }
  return spec;
}

std::filesystem::path resolve_weights_file(const WeightsInfo& weights,
                                           const std::string& weights_file,
                                           const std::string& weights_url,
                                           const FetchOptions& fetch) {
  if (!weights_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(weights_file, ec)) {
      throw Error(ErrorKind::kWeights,
                  weights_file + ": weights file not found (--weights-file)");
    }
    if (fetch.verify) verify_weights_file(weights_file);
    return weights_file;
  }
  if (!weights_url.empty()) {
    return fetch_into_cache("weights from --weights-url", weights_url,
                            cached_url_path(weights_url), fetch);
  }
  return fetch_into_cache("weights " + weights.name,
                          mirror_url(weights.url, fetch.mirror),
                          cached_weights_path(weights), fetch);
}

int run_classify(const ClassifySettings& settings, std::ostream& out) {
  const WeightsInfo& weights = find_weights(settings.weights);
  const TransformSpec spec = effective_transform(weights, settings.transform);
  if (settings.topk < 1)
    throw Error(ErrorKind::kUsage, "--topk must be at least 1");

  std::unique_ptr<Model> model;
  {
    const Checkpoint checkpoint(resolve_weights_file(
        weights, settings.weights_file, settings.weights_url, settings.fetch));
    model = Model::load(checkpoint, settings.model);
  }
  const std::int64_t num_classes = model->num_classes();
  const std::vector<std::string> labels =
      load_labels(settings.labels_file, num_classes);

  auto writer = make_record_writer(settings.format, settings.score_type, out);
  std::vector<float> input(3 * static_cast<std::size_t>(spec.crop_size) *
                           spec.crop_size);
  std::vector<float> logits(static_cast<std::size_t>(num_classes));
  bool any_failed = false;
  for (const std::string& path : settings.inputs) {
    Record record;
    record.path = path;
    try {
      try {
        const RgbImage image = decode_input(path, settings.decode);
        preprocess(image, spec, input.data());
      } catch (const std::bad_alloc&) {
        throw Error(ErrorKind::kTooLarge, path + ": out of memory decoding it");
      }
      model->forward(input.data(), 1, spec.crop_size, spec.crop_size,
                     logits.data());
      record.predictions =
          top_predictions(logits.data(), num_classes, settings.topk,
                          settings.score_type, labels);
    } catch (const Error& e) {
      if (!is_input_error(e.kind())) throw;
      record.error = RecordError{e.kind(), e.what()};
      spdlog::warn("{}", e.what());
      any_failed = true;
    }
    writer->write(record);
  }
  writer->finish();
  return any_failed ? kExitInputFailed : kExitOk;
}

void write_npy_float32(const std::filesystem::path& path,
                       const std::vector<std::int64_t>& shape,
                       const float* data) {
  std::string shape_text = "(";
  std::size_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    shape_text += std::to_string(shape[i]) + (shape.size() == 1      ? ",)"
                                              : i + 1 < shape.size() ? ", "
                                                                     : ")");
    count *= static_cast<std::size_t>(shape[i]);
  }
  if (shape.empty()) shape_text += ")";
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Magic, version 1.0, header length; the header is padded with spaces and
  // ends in '\n' so that the data starts on a 64-byte boundary.
  const std::size_t preamble = 10;
  const std::size_t total = preamble + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  AtomicFile file(path);
  file.write(bytes);
  file.write(data, count * sizeof(float));
  file.commit();
}

void run_preprocess(const PreprocessSettings& settings) {
  const WeightsInfo& weights = find_weights(settings.weights);
  const TransformSpec spec = effective_transform(weights, settings.transform);
  const RgbImage image = decode_input(settings.input, settings.decode);
  const RgbImage crop = resize_center_crop(image, spec);
  if (!settings.npy_output.empty()) {
    std::vector<float> chw(3 * static_cast<std::size_t>(crop.width) *
                           crop.height);
    normalize_to_chw(crop, spec, chw.data());
    write_npy_float32(settings.npy_output, {1, 3, crop.height, crop.width},
                      chw.data());
  }
  if (!settings.png_output.empty()) write_png(crop, settings.png_output);
}

}  // namespace resnet_cli
