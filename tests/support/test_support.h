// Helpers for resnet-cli's tests: the oracle's fixtures, .npy files, and
// running the resnet-cli binary as a user would.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace resnet_cli::testing {

// Folder the oracle (tests/oracle/make_fixtures.py) wrote its fixtures to.
std::filesystem::path fixture_dir();
std::filesystem::path fixture(const std::string& relative);
// fixture_dir()/manifest.json, parsed once.
const nlohmann::json& manifest();
std::filesystem::path checkpoint_fixture(const std::string& key);

struct NpyArray {
  std::string dtype;  // numpy descr: "<f4", "|u1", ...
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;

  std::size_t count() const;
  std::vector<float> floats() const;  // dtype must be <f4
};
NpyArray load_npy(const std::filesystem::path& path);

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs the built resnet-cli with `args`; `env` adds or replaces environment
// variables (an empty value removes one). `stdin_data` is fed on stdin.
CommandResult run_cli(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {},
                      const std::string& stdin_data = "");

// Starts resnet-cli in the background with stdout and stderr going to the
// given files (stdin from /dev/null); returns its pid.
int spawn_cli(const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env,
              const std::filesystem::path& stdout_path,
              const std::filesystem::path& stderr_path);
// Waits for a spawned process; its exit code, or 128 + signal.
int wait_cli(int pid);

// The environment tests run resnet-cli in: the fixture checkpoint in
// torch.hub's cache, and none of the user's RESNET_CLI_* settings.
std::map<std::string, std::string> fixture_env();

std::string read_file(const std::filesystem::path& path);
void write_text(const std::filesystem::path& path, const std::string& text);

// A fresh empty folder, removed at exit.
std::filesystem::path temp_dir(const std::string& name);

// Largest |a - b| over both arrays, and largest |a|.
struct Difference {
  double max_abs = 0;
  double max_reference = 0;
  double relative() const {
    return max_reference > 0 ? max_abs / max_reference : max_abs;
  }
};
Difference compare(const std::vector<float>& actual,
                   const std::vector<float>& expected);

}  // namespace resnet_cli::testing
