// decode_crops [--allow-truncated] OUT_DIR FILE...: what `resnet-cli
// preprocess [--allow-truncated] FILE --png CROP` computes (decode as PIL's
// Image.open(f).convert("RGB"), resize 232, center crop 224: IMAGENET1K_V2's
// transforms up to the uint8 crop), for many files in one process, so that
// tests/oracle/compare_with_pil.py can compare a corpus with PIL quickly. For
// file I it writes OUT_DIR/I.png, or a line "I<TAB>error<TAB>MESSAGE" on
// stdout; on stderr, before each file, a line
// "@@ I" so that anything a library prints can be told to its file.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "base/error.h"
#include "image/decode.h"
#include "image/preprocess.h"

int main(int argc, char** argv) {
  resnet_cli::DecodeOptions options;
  if (argc > 1 && std::string(argv[1]) == "--allow-truncated") {
    options.allow_truncated = true;
    --argc;
    ++argv;
  }
  if (argc < 2) {
    std::cerr << "usage: decode_crops [--allow-truncated] OUT_DIR FILE...\n";
    return 2;
  }
  auto logger = spdlog::stderr_logger_mt("resnet-cli");
  logger->set_pattern("resnet-cli: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  const std::filesystem::path out = argv[1];
  resnet_cli::TransformSpec spec;
  spec.resize_size = 232;
  spec.crop_size = 224;
  for (int i = 2; i < argc; ++i) {
    const int index = i - 2;
    std::fprintf(stderr, "@@ %d\n", index);
    std::fflush(stderr);
    try {
      const resnet_cli::RgbImage image =
          resnet_cli::decode_image_input(argv[i], options);
      resnet_cli::write_png(resnet_cli::resize_center_crop(image, spec),
                            out / (std::to_string(index) + ".png"));
    } catch (const resnet_cli::Error& e) {
      std::cout << index << "\terror\tresnet-cli: " << e.what() << "\n";
    }
    std::cout.flush();
  }
  return 0;
}
