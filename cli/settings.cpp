#include "settings.h"

#include "base/error.h"
#include "model/device.h"
#include "weights/download.h"

namespace resnet_cli::cli {

InputOptions input_options(const OptionValues& values,
                           std::vector<std::string> paths) {
  InputOptions input;
  input.paths = std::move(paths);
  input.files_from = values.files_from;
  input.null_separated = values.null_separated;
  if (values.extensions) input.extensions = *values.extensions;
  input.follow_symlinks = values.follow;
  input.shard = values.shard;
  return input;
}

DecodeOptions decode_options(const OptionValues& values) {
  DecodeOptions decode;
  decode.apply_exif_orientation = values.exif == ExifMode::kApply;
  decode.allow_truncated = values.allow_truncated;
  decode.max_pixels = values.max_pixels;
  return decode;
}

TransformOverrides transform_overrides(const OptionValues& values) {
  TransformOverrides overrides;
  if (values.resize > 0) overrides.resize_size = values.resize;
  if (values.crop > 0) overrides.crop_size = values.crop;
  overrides.interpolation = values.interpolation;
  overrides.mean = values.mean;
  overrides.std = values.std;
  return overrides;
}

FetchOptions fetch_options(const OptionValues& values, int verbosity) {
  if (!values.mirror.empty() &&
      values.mirror.find("://") == std::string::npos) {
    throw Error(ErrorKind::kUsage,
                "--mirror '" + values.mirror +
                    "': expected a base URL such as http://host/models/");
  }
  FetchOptions fetch;
  fetch.mirror = values.mirror;
  fetch.offline = values.offline;
  fetch.verify = values.verify;
  fetch.download.retries = values.retries;
  fetch.download.retry_delay_ms = values.retry_delay_ms;
  fetch.download.stall_timeout_s = values.stall_timeout_s;
  fetch.download.progress = download_progress_renderer(verbosity >= 0);
  return fetch;
}

namespace {

// --model DIR: the folder's checkpoint, labels, architecture and
// transforms, in place of the options that would name them.
void apply_model_dir(SessionOptions& session, const OptionValues& values) {
  if (!values.weights_file.empty() || !values.weights_url.empty() ||
      !values.labels_file.empty() || values.arch) {
    throw Error(ErrorKind::kUsage,
                "--model names the weights, labels and architecture; drop "
                "--weights-file, --weights-url, --labels and --arch");
  }
  const TrainedModel model = read_trained_model(values.model_dir);
  session.weights = model.weights;
  session.weights_file = model.weights_file.string();
  session.labels_file = model.labels_file.string();
  session.model.arch = model.arch;
  TransformOverrides& t = session.transform;
  if (!t.resize_size) t.resize_size = model.transform.resize_size;
  if (!t.crop_size) t.crop_size = model.transform.crop_size;
  if (!t.interpolation) t.interpolation = model.transform.interpolation;
  if (!t.mean) t.mean = model.transform.mean;
  if (!t.std) t.std = model.transform.std;
}

}  // namespace

void fill_session(SessionOptions& session, const OptionValues& values,
                  int verbosity) {
  const std::string arch = values.arch.value_or("");
  find_weights(values.weights, arch);  // an unknown name is a usage error now
  if (!values.weights_file.empty() && !values.weights_url.empty()) {
    throw Error(ErrorKind::kUsage,
                "give --weights-file or --weights-url, not both");
  }
  if (!values.weights_url.empty()) url_file_name(values.weights_url);
  session.weights = values.weights;
  session.weights_file = values.weights_file;
  session.weights_url = values.weights_url;
  session.fetch = fetch_options(values, verbosity);
  session.labels_file = values.labels_file;
  session.transform = transform_overrides(values);
  session.model.threads = values.threads;
  session.model.device = values.device;
  parse_device(values.device);  // an unknown device is a usage error now
  session.model.precision = values.precision;
  session.model.tf32 = values.tf32;
  session.model.engine = values.engine;
  session.model.arch = arch;
  session.plan.workers = values.workers;
  session.plan.batch_size = values.batch_size;
  session.plan.decode_threads = values.decode_threads;
  session.plan.ordered = !values.unordered;
  if (!values.model_dir.empty()) apply_model_dir(session, values);
}

}  // namespace resnet_cli::cli
