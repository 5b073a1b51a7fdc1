// Joining the parts of a sharded run: the JSON Lines files that
// `classify --shard I/N --format jsonl --output part-I.jsonl --resume` writes,
// one per task of a Slurm array, a Kubernetes indexed Job or a GNU parallel
// host, into the output one process would have written, checked so that a
// lost or repeated task cannot go unnoticed. A video is one input: its frame
// records go with its closing record (record.h).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "run/inputs.h"
#include "run/record_writer.h"

namespace resnet_cli {

struct MergeSettings {
  std::vector<std::string> parts;  // JSON Lines files, in this order
  // The run's inputs, listed again by the same scanner with the same options
  // and no shard. When given, every input must be recorded exactly once and
  // nothing else may be, and the records come out in input order, as one
  // process writes them. Without it, records come out part by part, each
  // part in its own order, and only repeated paths are refused.
  std::optional<InputOptions> inputs;
  OutputFormat format = OutputFormat::kJsonl;  // kJsonl or kJson
};

struct MergeSummary {
  std::uint64_t records = 0;  // lines written (a video's frames included)
  std::uint64_t failed = 0;   // inputs whose closing record is an error
  // Last lines without their newline (a task stopped while writing one),
  // left out: the input they were about is not recorded.
  std::uint64_t incomplete_lines = 0;
};

// Reads every part, then writes the merged records to `out`. Nothing is
// written unless all checks pass; a failed write leaves `out` failed and the
// summary counting what was written. Throws Error(kMerge) naming the path and
// the files for an input recorded twice, an input recorded nowhere, a record
// that is not an input, a part that cannot be read, or a line that is not a
// record; Error(kUsage) for an output format other than jsonl or json, a part
// given twice, or inputs that cannot be listed.
MergeSummary merge_parts(const MergeSettings& settings, std::ostream& out);

}  // namespace resnet_cli
