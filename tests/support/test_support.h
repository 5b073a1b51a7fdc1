// Helpers for resnet-cli's tests: the oracle's fixtures, .npy files, and
// running the resnet-cli binary as a user would.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
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

// ASCII lower case.
inline std::string to_lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// Runs a shell command line (sh -c), capturing stdout and stderr.
CommandResult run_command(const std::string& shell_command);

// Runs the built resnet-cli with `args`; `env` adds or replaces environment
// variables (an empty value removes one). `stdin_data` is fed on stdin.
CommandResult run_cli(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {},
                      const std::string& stdin_data = "");

// How start_cli runs the binary, beyond run_cli's arguments.
struct RunOptions {
  std::string stdin_data;
  // Killed (SIGKILL) after this many seconds, a guard against a hang; 0: none.
  int timeout_s = 0;
  // stderr is a pseudo-terminal (raw mode: no "\r\n" translation).
  bool stderr_on_terminal = false;
  // RLIMIT_FSIZE, bytes: writing past it fails with EFBIG; < 0: no limit.
  long long max_file_bytes = -1;
  // When run as root, the child loses CAP_DAC_OVERRIDE and
  // CAP_DAC_READ_SEARCH, so file modes apply to it as to any other user.
  bool without_permission_override = false;
};

// resnet-cli running in the background; wait() collects it. Destroying it
// unwaited kills it.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env,
             const RunOptions& options);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  int pid() const { return pid_; }
  // Where its stdout goes, to watch while it runs.
  std::filesystem::path stdout_path() const { return folder_ / "stdout"; }
  void send_signal(int signal_number) const;
  CommandResult wait();

 private:
  int pid_ = -1;
  int terminal_ = -1;  // the pseudo-terminal's master side, when stderr is one
  int timeout_s_ = 0;
  std::filesystem::path folder_;
  std::string terminal_output_;
};

// A tests/http_server.py serving the files in `root` on 127.0.0.1 (see that
// script for the misbehaviours a URL path selects).
class HttpServer {
 public:
  explicit HttpServer(const std::filesystem::path& root);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>/" + path
  std::string url(const std::string& path) const;
  // {"requests": {path: count}, "peak_in_flight": {path: n}, "proxied": n}
  nlohmann::json stats() const;
  // Requests so far for one path ("/ok/x.pth"), 0 when none.
  int requests(const std::string& path) const;
  int total_requests() const;
  // Kills the server; connections to its port are refused from then on.
  void stop();

 private:
  int pid_ = -1;
  int port_ = 0;
  std::filesystem::path stats_file_;
};

// Sets (or, for nullptr, unsets) environment variables for its lifetime.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name,
                          old ? std::optional<std::string>(old) : std::nullopt);
      if (value) {
        ::setenv(name, value, 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// A port on 127.0.0.1 that nothing listens on: connecting is refused.
int closed_port();

// The names in a folder, sorted; empty when it does not exist.
std::vector<std::string> list_dir(const std::filesystem::path& folder);

// SHA-256 of a file, lowercase hex, computed by coreutils' sha256sum (not by
// the code under test).
std::string sha256sum(const std::filesystem::path& path);

// The environment tests run resnet-cli in: the fixture checkpoint in
// torch.hub's cache, downloads off, none of the user's RESNET_CLI_* settings
// nor NO_COLOR.
std::map<std::string, std::string> fixture_env();

std::string read_file(const std::filesystem::path& path);
// `text` split at '\n' (no empty last line for a trailing newline).
std::vector<std::string> lines_of(const std::string& text);
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
