// resnet-cli: the command-line front end. Parsing lives in routing.cpp, each
// command in its own file, the work in the library; this file wires them and
// maps failures to exit codes (exit_codes.h).
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>

#include "base/error.h"
#include "commands.h"
#include "exit_codes.h"
#include "model/model_loader.h"
#include "options.h"
#include "signals.h"
#include "terminal.h"
#include "video/video_reader.h"

namespace {

// LibTorch's tensors are blocks of 1 to 100 MB. By default glibc maps each
// one afresh and unmaps it when freed, so the kernel faults in and zeroes the
// same memory again for every batch: page faults took 40% of a ResNet50
// training epoch (batch 32) and the epoch ran 1.75x slower. Freed blocks stay
// in the heap for the next batch instead; GLIBC_TUNABLES still decides where
// it sets glibc.malloc.*.
void keep_freed_tensor_memory() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.")) return;
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
}

// Parses, runs the command and maps its failures to exit codes.
int run(int argc, char** argv) {
  using namespace resnet_cli::cli;
  std::ios::sync_with_stdio(false);
  std::cin.tie(nullptr);  // stdin may be read on another thread than stdout
  remove_temporaries_on_fatal_signals();
  keep_freed_tensor_memory();
  resnet_cli::prepare_video_environment();  // before any thread starts
  record_command_line(argc, argv);
  ParseOutcome parsed = parse_command_line(argc, argv, std::cout, std::cerr);
  if (!parsed.run) return parsed.exit_code;
  setup_logging(parsed.settings.verbosity);
  try {
    return run_command(parsed.settings, std::cout);
  } catch (const resnet_cli::Error& e) {
    std::cout.flush();
    spdlog::default_logger()->flush();
    std::cerr << "resnet-cli: " << e.what() << "\n";
    return exit_code_for(e.kind());
  } catch (const std::bad_alloc&) {
    std::cerr << "resnet-cli: out of memory\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "resnet-cli: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}

}  // namespace

// Once the model module is mapped, the process leaves without running static
// destructors: LibTorch's take 40 to 50 ms (a tenth of a cold classify), and
// must not run while the module is still initialising on its thread. Every
// file the command wrote is closed by then; only the standard streams are
// flushed here.
int main(int argc, char** argv) {
  const int exit_code = run(argc, argv);
  if (!resnet_cli::model_module_started()) return exit_code;
  std::cout.flush();
  std::cerr.flush();
  spdlog::shutdown();
  std::fflush(nullptr);
  std::_Exit(exit_code);
}
