#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace resnet_cli::testing {

namespace {

std::string read_all(const std::filesystem::path& path) {
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
      nlohmann::json::parse(read_all(fixture("manifest.json")));
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
  const std::string bytes = read_all(path);
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
  std::vector<std::string> strings;
  for (const auto& [key, value] : environment) {
    strings.push_back(key + "=" + value);
  }
  return strings;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& text : strings) out.push_back(text.data());
  out.push_back(nullptr);
  return out;
}

// In the child, before exec: what RunOptions asks of the process itself.
void apply_child_limits(const RunOptions& options) {
  if (options.max_file_bytes >= 0) {
    // Past the limit write() fails with EFBIG instead of killing the process.
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{static_cast<rlim_t>(options.max_file_bytes),
                       static_cast<rlim_t>(options.max_file_bytes)};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(125);
  }
  if (options.without_permission_override && ::geteuid() == 0) {
    // Dropped from the bounding set, they are not regained at exec.
    if (::prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0 ||
        ::prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) != 0) {
      ::_exit(125);
    }
  }
}

}  // namespace

CliProcess::CliProcess(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env,
                       const RunOptions& options)
    : timeout_s_(options.timeout_s), folder_(temp_dir("run")) {
  const auto out_path = folder_ / "stdout";
  const auto err_path = folder_ / "stderr";
  const auto in_path = folder_ / "stdin";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << options.stdin_data;
  }
  std::vector<std::string> env_strings = environment_with(env);
  std::vector<char*> envp = pointers(env_strings);
  std::vector<std::string> argv_strings = {RESNET_CLI_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv = pointers(argv_strings);

  int terminal_side = -1;
  if (options.stderr_on_terminal) {
    terminal_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (terminal_ < 0 || ::grantpt(terminal_) != 0 ||
        ::unlockpt(terminal_) != 0) {
      throw std::runtime_error("cannot open a pseudo-terminal");
    }
    terminal_side = ::open(::ptsname(terminal_), O_RDWR | O_NOCTTY);
    if (terminal_side < 0) throw std::runtime_error("cannot open pty slave");
    termios mode{};
    ::tcgetattr(terminal_side, &mode);
    ::cfmakeraw(&mode);
    ::tcsetattr(terminal_side, TCSANOW, &mode);
  }

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int in = ::open(in_path.c_str(), O_RDONLY);
    const int out =
        ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err =
        terminal_side >= 0
            ? terminal_side
            : ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    apply_child_limits(options);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (terminal_side >= 0) ::close(terminal_side);
}

CliProcess::~CliProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (terminal_ >= 0) ::close(terminal_);
}

void CliProcess::send_signal(int signal_number) const {
  if (pid_ > 0) ::kill(pid_, signal_number);
}

CommandResult CliProcess::wait() {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s_);
  int status = 0;
  for (;;) {
    if (terminal_ >= 0) {
      // Drained as it comes, so that the child never blocks on a full pty.
      pollfd poll_fd{terminal_, POLLIN, 0};
      if (::poll(&poll_fd, 1, 20) > 0) {
        char buffer[4096];
        const ssize_t got = ::read(terminal_, buffer, sizeof buffer);
        if (got > 0) terminal_output_.append(buffer, got);
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (done < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
    if (timeout_s_ > 0 && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
    }
  }
  pid_ = -1;
  if (terminal_ >= 0) {
    char buffer[4096];
    pollfd poll_fd{terminal_, POLLIN, 0};
    while (::poll(&poll_fd, 1, 0) > 0) {
      const ssize_t got = ::read(terminal_, buffer, sizeof buffer);
      if (got <= 0) break;
      terminal_output_.append(buffer, got);
    }
  }
  CommandResult result;
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_all(folder_ / "stdout");
  result.err = terminal_ >= 0 ? terminal_output_ : read_all(folder_ / "stderr");
  return result;
}

std::map<std::string, std::string> fixture_env() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    if (text.rfind("RESNET_CLI_", 0) == 0)
      env[text.substr(0, text.find('='))] = "";
  }
  env["TORCH_HOME"] = fixture("torch_home").string();
  env["RESNET_CLI_OFFLINE"] = "1";  // no test may reach the internet
  env["NO_COLOR"] = "";  // colour as each test asks, whatever the user's
  return env;
}

std::string read_file(const std::filesystem::path& path) {
  return read_all(path);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

CommandResult run_cli(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env,
                      const std::string& stdin_data) {
  RunOptions options;
  options.stdin_data = stdin_data;
  return CliProcess(args, env, options).wait();
}

HttpServer::HttpServer(const std::filesystem::path& root) {
  stats_file_ = temp_dir("http-server") / "stats.json";
  int port_pipe[2];
  if (::pipe2(port_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> argv_strings = {RESNET_CLI_TEST_PYTHON,
                                           RESNET_CLI_HTTP_SERVER_SCRIPT,
                                           root.string(), stats_file_.string()};
  std::vector<char*> argv = pointers(argv_strings);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(port_pipe[1], 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(port_pipe[1]);
  std::string line;
  pollfd poll_fd{port_pipe[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos &&
         ::poll(&poll_fd, 1, 30000) > 0) {
    char buffer[64];
    const ssize_t got = ::read(port_pipe[0], buffer, sizeof buffer);
    if (got <= 0) break;
    line.append(buffer, got);
  }
  ::close(port_pipe[0]);
  port_ = std::atoi(line.c_str());
  if (port_ <= 0) {
    stop();
    throw std::runtime_error("tests/http_server.py did not start");
  }
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string HttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

nlohmann::json HttpServer::stats() const {
  return nlohmann::json::parse(read_all(stats_file_));
}

int HttpServer::requests(const std::string& path) const {
  const nlohmann::json counts = stats().at("requests");
  return counts.contains(path) ? counts.at(path).get<int>() : 0;
}

int HttpServer::total_requests() const {
  int total = 0;
  const nlohmann::json counts = stats().at("requests");
  for (const auto& [path, count] : counts.items()) total += count.get<int>();
  return total;
}

int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (fd < 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  // Bound but never listening: connections are refused while it stays open;
  // the port is kept for the rest of the test process.
  static std::vector<int> kept;
  kept.push_back(fd);
  return ntohs(address.sin_port);
}

std::vector<std::string> list_dir(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

CommandResult run_command(const std::string& shell_command) {
  const auto folder = temp_dir("command");
  const auto out = folder / "stdout";
  const auto err = folder / "stderr";
  const std::string line = "(" + shell_command + ") >'" + out.string() +
                           "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(line.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

std::string sha256sum(const std::filesystem::path& path) {
  const std::string command = "sha256sum < '" + path.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run sha256sum");
  char digest[65] = "";
  const std::size_t got = std::fread(digest, 1, 64, pipe);
  ::pclose(pipe);
  if (got != 64)
    throw std::runtime_error("sha256sum failed on " + path.string());
  return digest;
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
