// The report: classify's records (a JSON array or JSON Lines, probabilities
// or logits; a video's as a film strip with a timeline of the leading class)
// or evaluate's JSON object as one self-contained HTML page,
// nothing fetched from the network. Thumbnails are made by resnet-cli's own
// decoders and Pillow-exact resampler, JPEG-encoded into data: URIs; an
// image that cannot be read any more (moved, deleted) gets a placeholder.
// A record with explain's maps also gets its first map laid over the
// thumbnail as explain's overlays are drawn (shown on hover, or all at once
// by a checkbox or the page's #heatmaps). No LibTorch here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>

namespace resnet_cli {

struct ReportOptions {
  int thumbnail_size = 128;  // pixels, the longer side (never enlarged)
  int threads = 0;           // making thumbnails; 0: one per core
};

struct ReportSummary {
  bool evaluation = false;       // evaluate's results, not classify's
  std::uint64_t records = 0;     // cards shown (classify: every input, a
                                 // video once)
  std::uint64_t failed = 0;      // error records
  std::uint64_t unreadable = 0;  // images shown as a placeholder, and
                                 // videos whose frames are
};

// Reads `results` and writes the page to `html`. A path in the results that
// is relative and not found from the current folder is looked up beside
// `results`. Throws Error(kUsage) naming `results` when it cannot be read,
// is not one of those outputs, or holds embeddings (nothing to show).
ReportSummary write_report(const std::filesystem::path& results,
                           std::ostream& html, const ReportOptions& options);

}  // namespace resnet_cli
