// resnet-cli: the command-line front end. Parsing lives in options.cpp, the
// work in the library; this file wires them and maps failures to exit codes.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "options.h"
#include "resnet_cli/error.h"

namespace {

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_logger_mt("resnet-cli");
  logger->set_pattern("resnet-cli: %^%l%$: %v");
  switch (verbosity) {
    case -1:
      logger->set_level(spdlog::level::err);
      break;
    case 0:
      logger->set_level(spdlog::level::warn);
      break;
    case 1:
      logger->set_level(spdlog::level::info);
      break;
    default:
      logger->set_level(spdlog::level::debug);
      break;
  }
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::cin.tie(nullptr);  // stdin may be read on another thread than stdout
  resnet_cli::cli::ParseOutcome parsed =
      resnet_cli::cli::parse_command_line(argc, argv, std::cout, std::cerr);
  if (!parsed.run) return parsed.exit_code;
  setup_logging(parsed.settings.verbosity);
  try {
    return resnet_cli::cli::run_command(parsed.settings, std::cout);
  } catch (const resnet_cli::Error& e) {
    std::cout.flush();
    std::cerr << "resnet-cli: " << e.what() << "\n";
    return resnet_cli::exit_code_for(e.kind());
  } catch (const std::bad_alloc&) {
    std::cerr << "resnet-cli: out of memory\n";
    return resnet_cli::kExitModel;
  } catch (const std::exception& e) {
    std::cerr << "resnet-cli: internal error: " << e.what() << "\n";
    return resnet_cli::kExitModel;
  }
}
