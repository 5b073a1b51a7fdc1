#include "test_support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace resnet_cli::testing {

namespace {

std::string read_all_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct TempRoot {
  std::filesystem::path path;
  TempRoot() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "resnet-cli-test-XXXXXX")
            .string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TempRoot& temp_root() {
  static TempRoot root;
  return root;
}

}  // namespace

std::filesystem::path fixture_dir() { return RESNET_CLI_FIXTURE_DIR; }

std::filesystem::path fixture(const std::string& relative) {
  return fixture_dir() / relative;
}

const nlohmann::json& manifest() {
  static const nlohmann::json parsed =
      nlohmann::json::parse(read_all_bytes(fixture("manifest.json")));
  return parsed;
}

std::filesystem::path checkpoint_fixture(const std::string& key) {
  return fixture(manifest().at("checkpoints").at(key).get<std::string>());
}

std::size_t NpyArray::count() const {
  std::size_t n = 1;
  for (std::int64_t dim : shape) n *= static_cast<std::size_t>(dim);
  return n;
}

std::vector<float> NpyArray::floats() const {
  if (dtype != "<f4")
    throw std::runtime_error("npy dtype is " + dtype + ", not <f4");
  std::vector<float> out(count());
  std::memcpy(out.data(), data.data(), out.size() * sizeof(float));
  return out;
}

NpyArray load_npy(const std::filesystem::path& path) {
  const std::string bytes = read_all_bytes(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw std::runtime_error(path.string() + ": not a .npy file");
  }
  std::size_t header_length = 0;
  std::size_t header_start = 0;
  if (bytes[6] == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) |
                    (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else {
    header_length =
        static_cast<unsigned char>(bytes[8]) |
        (static_cast<unsigned char>(bytes[9]) << 8) |
        (static_cast<unsigned char>(bytes[10]) << 16) |
        (static_cast<std::size_t>(static_cast<unsigned char>(bytes[11])) << 24);
    header_start = 12;
  }
  const std::string header = bytes.substr(header_start, header_length);
  NpyArray array;
  std::smatch match;
  if (!std::regex_search(header, match, std::regex("'descr': '([^']+)'"))) {
    throw std::runtime_error(path.string() + ": no descr");
  }
  array.dtype = match[1];
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path.string() + ": Fortran order");
  }
  if (!std::regex_search(header, match, std::regex("'shape': \\(([^)]*)\\)"))) {
    throw std::runtime_error(path.string() + ": no shape");
  }
  std::istringstream dims(match[1].str());
  std::string dim;
  while (std::getline(dims, dim, ',')) {
    if (dim.find_first_not_of(' ') == std::string::npos) continue;
    array.shape.push_back(std::stoll(dim));
  }
  const std::size_t data_start = header_start + header_length;
  array.data.assign(bytes.begin() + static_cast<long>(data_start), bytes.end());
  return array;
}

std::filesystem::path temp_dir(const std::string& name) {
  static std::mutex mutex;
  static int counter = 0;
  std::lock_guard<std::mutex> lock(mutex);
  const auto path = temp_root().path / (name + "-" + std::to_string(counter++));
  std::filesystem::create_directories(path);
  return path;
}

namespace {

std::vector<std::string> environment_with(
    const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) {
      environment[text.substr(0, equals)] = text.substr(equals + 1);
    }
  }
  for (const auto& [key, value] : env) {
    if (value.empty()) {
      environment.erase(key);
    } else {
      environment[key] = value;
    }
  }
  std::vector<std::string> out;
  for (const auto& [key, value] : environment) out.push_back(key + "=" + value);
  return out;
}

int spawn(const std::vector<std::string>& args,
          const std::map<std::string, std::string>& env,
          const std::filesystem::path& stdin_path,
          const std::filesystem::path& stdout_path,
          const std::filesystem::path& stderr_path) {
  std::vector<std::string> env_strings = environment_with(env);
  std::vector<char*> envp;
  for (std::string& text : env_strings) envp.push_back(text.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {RESNET_CLI_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& text : argv_strings) argv.push_back(text.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int in = ::open(stdin_path.c_str(), O_RDONLY);
    const int out =
        ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err =
        ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

int spawn_cli(const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env,
              const std::filesystem::path& stdout_path,
              const std::filesystem::path& stderr_path) {
  return spawn(args, env, "/dev/null", stdout_path, stderr_path);
}

int wait_cli(int pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::map<std::string, std::string> fixture_env() {
  std::map<std::string, std::string> env = {
      {"TORCH_HOME", fixture("torch_home").string()}};
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    if (text.rfind("RESNET_CLI_", 0) == 0)
      env[text.substr(0, text.find('='))] = "";
  }
  return env;
}

std::string read_file(const std::filesystem::path& path) {
  return read_all_bytes(path);
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

CommandResult run_cli(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env,
                      const std::string& stdin_data) {
  const auto folder = temp_dir("run");
  const auto in_path = folder / "stdin";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << stdin_data;
  }
  const int pid =
      spawn(args, env, in_path, folder / "stdout", folder / "stderr");
  CommandResult result;
  result.exit_code = wait_cli(pid);
  result.out = read_all_bytes(folder / "stdout");
  result.err = read_all_bytes(folder / "stderr");
  return result;
}

Difference compare(const std::vector<float>& actual,
                   const std::vector<float>& expected) {
  if (actual.size() != expected.size()) {
    throw std::runtime_error("compare: sizes differ (" +
                             std::to_string(actual.size()) + " vs " +
                             std::to_string(expected.size()) + ")");
  }
  Difference difference;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    difference.max_abs =
        std::max(difference.max_abs,
                 std::fabs(static_cast<double>(actual[i]) - expected[i]));
    difference.max_reference = std::max(
        difference.max_reference, std::fabs(static_cast<double>(expected[i])));
  }
  return difference;
}

}  // namespace resnet_cli::testing
