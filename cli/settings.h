// Turning the parsed option values into the library's settings: the parts
// several commands share (inputs, decoding, transforms, downloads, the model
// session). Each command builds the rest of its settings in its own file.
#pragma once

#include <string>
#include <vector>

#include "options.h"

namespace resnet_cli::cli {

// The inputs: `paths` plus --files-from, -0, --ext, --follow, --shard.
InputOptions input_options(const OptionValues& values,
                           std::vector<std::string> paths);

// --exif, --allow-truncated, --max-pixels.
DecodeOptions decode_options(const OptionValues& values);

// --resize, --crop, --interpolation, --mean, --std.
TransformOverrides transform_overrides(const OptionValues& values);

// --mirror, --offline, --verify, --retries, ...; progress on stderr unless
// `verbosity` is quiet. Throws Error(kUsage) for a --mirror that is no URL.
FetchOptions fetch_options(const OptionValues& values, int verbosity);

// The model session of classify, bench, serve, evaluate and train:
// weights (or --model DIR), labels, transforms, threads, device, precision,
// engine, architecture and the pipeline plan. Throws Error(kUsage) for an
// unknown weights name and contradictory options.
void fill_session(SessionOptions& session, const OptionValues& values,
                  int verbosity);

}  // namespace resnet_cli::cli
