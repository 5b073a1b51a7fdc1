// Downloading weights, end to end: the built resnet-cli against
// tests/http_server.py on 127.0.0.1, serving the oracle's fixture checkpoint.
// Every scenario ends by checking the cache folder's exact contents: one
// verified file, or nothing (never a .partial).
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include "base/error.h"
#include "exit_codes.h"
#include "test_support.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;
using testing::CliProcess;
using testing::CommandResult;
using testing::HttpServer;
using testing::list_dir;
using testing::run_cli;
using testing::RunOptions;
using Names = std::vector<std::string>;

namespace {

const std::string kV2File = "resnet50-11ad3fa6.pth";
const std::string kV2Url = "https://download.pytorch.org/models/" + kV2File;

std::filesystem::path fixture_checkpoint() {
  return std::filesystem::absolute(testing::checkpoint_fixture("zip"));
}

const std::string& fixture_sha256() {
  static const std::string digest = testing::sha256sum(fixture_checkpoint());
  return digest;
}

// The fixture under the name torch.hub's rule accepts for it.
const std::string& good_name() {
  static const std::string name =
      "resnet50-" + fixture_sha256().substr(0, 10) + ".pth";
  return name;
}

// The folder the server serves: the fixture under a good name, under a
// name whose hash it does not have, under torchvision's V2 name (which it is
// not), and under a name without a hash.
std::filesystem::path served_folder() {
  const auto folder = testing::temp_dir("served");
  for (const std::string& name :
       {good_name(), std::string("resnet50-deadbeef.pth"), kV2File,
        std::string("model.pth")}) {
    std::filesystem::create_symlink(fixture_checkpoint(), folder / name);
  }
  return folder;
}

std::string image() {
  return testing::fixture("images/photo_500x375.jpg").string();
}

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::string last_line(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  const auto newline = trimmed.rfind('\n');
  return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

// A server, an empty torch home and the environment that points at them.
struct Scenario {
  std::filesystem::path served = served_folder();
  HttpServer server{served};
  std::filesystem::path torch_home = testing::temp_dir("torch-home");
  std::filesystem::path cache = torch_home / "hub" / "checkpoints";

  // Only what the test sets: no inherited resnet-cli settings or proxies,
  // and short retry delays.
  std::map<std::string, std::string> env() const {
    std::map<std::string, std::string> values = {
        {"TORCH_HOME", torch_home.string()},
        {"RESNET_CLI_RETRY_DELAY_MS", "10"}};
    for (const char* name :
         {"XDG_CACHE_HOME", "RESNET_CLI_MIRROR", "RESNET_CLI_OFFLINE",
          "RESNET_CLI_VERIFY", "RESNET_CLI_RETRIES", "RESNET_CLI_STALL_TIMEOUT",
          "RESNET_CLI_WEIGHTS", "RESNET_CLI_WEIGHTS_FILE",
          "RESNET_CLI_WEIGHTS_URL", "RESNET_CLI_FORMAT", "RESNET_CLI_TOPK",
          "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
          "no_proxy", "NO_PROXY"}) {
      values[name] = "";
    }
    return values;
  }
  std::map<std::string, std::string> env(
      const std::map<std::string, std::string>& extra) const {
    auto values = env();
    for (const auto& [key, value] : extra) values[key] = value;
    return values;
  }

  // `weights download --url` of the served path.
  CommandResult download(const std::string& path,
                         std::vector<std::string> extra_args = {}) const {
    std::vector<std::string> args = {"weights", "download", "--url",
                                     server.url(path)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return run_cli(args, env());
  }
};

// Checks a failure: exit 3, one line on stderr that names `url`, nothing
// on stdout.
void check_download_failed(const CommandResult& result,
                           const std::string& url) {
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == kExitModel);
  CHECK(result.out.empty());
  CHECK_THAT(last_line(result.err),
             Catch::StartsWith("resnet-cli: ") &&
                 Catch::Contains("cannot download " + url + ": "));
}

// A tmpfs mounted for one scope, when this process may mount one (root).
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& where, const std::string& size)
      : where_(where) {
    mounted_ = ::mount("tmpfs", where.c_str(), "tmpfs", 0,
                       ("size=" + size).c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path where_;
  bool mounted_ = false;
};

// Runs Python with torch.hub, the oracle, under `env`; returns its stdout.
std::string run_python(const std::string& script,
                       const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  const auto folder = testing::temp_dir("python");
  const auto script_path = folder / "script.py";
  std::ofstream(script_path) << script;
  // env(1) takes its -u options before the assignments.
  std::string command = "env";
  for (const auto& [key, value] : env) {
    if (value.empty()) command += " -u " + key;
  }
  for (const auto& [key, value] : env) {
    if (!value.empty()) command += " " + key + "='" + value + "'";
  }
  command += " /usr/bin/python3 '" + script_path.string() + "'";
  for (const auto& arg : args) command += " '" + arg + "'";
  command += " > '" + (folder / "out").string() + "' 2> '" +
             (folder / "err").string() + "'";
  const int status = std::system(command.c_str());
  std::ifstream out(folder / "out");
  const std::string text((std::istreambuf_iterator<char>(out)),
                         std::istreambuf_iterator<char>());
  std::ifstream err(folder / "err");
  const std::string errors((std::istreambuf_iterator<char>(err)),
                           std::istreambuf_iterator<char>());
  INFO("python stderr: " << errors);
  REQUIRE(status == 0);
  return text;
}

}  // namespace

TEST_CASE("weights download fetches a URL once into torch.hub's cache",
          "[download][oracle]") {
  Scenario s;
  const std::string path = "ok/" + good_name();
  const CommandResult result = s.download(path);
  INFO("stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == (s.cache / good_name()).string() + "\n");
  CHECK(list_dir(s.cache) == Names{good_name()});
  CHECK(testing::sha256sum(s.cache / good_name()) == fixture_sha256());
  // Not a terminal: one summary line, naming the URL and the whole digest.
  CHECK(line_count(result.err) == 1);
  CHECK_THAT(result.err, Catch::StartsWith("resnet-cli: downloaded " +
                                           s.server.url(path)) &&
                             Catch::Contains(fixture_sha256()));
  CHECK(s.server.requests("/" + path) == 1);

  SECTION("a second download finds it cached and fetches nothing") {
    const CommandResult again = s.download(path);
    CHECK(again.exit_code == 0);
    CHECK(again.out == result.out);
    CHECK_THAT(again.err, Catch::Contains("already cached"));
    CHECK(s.server.requests("/" + path) == 1);
  }
  SECTION("weights verify reports the whole digest") {
    const auto verify = run_cli(
        {"weights", "verify", (s.cache / good_name()).string()}, s.env());
    CHECK(verify.exit_code == 0);
    CHECK_THAT(verify.out,
               Catch::Contains("OK") && Catch::Contains(fixture_sha256()));
  }
  SECTION("--force downloads again over it") {
    const CommandResult forced = s.download(path, {"--force"});
    CHECK(forced.exit_code == 0);
    CHECK(s.server.requests("/" + path) == 2);
    CHECK(list_dir(s.cache) == Names{good_name()});
    CHECK(testing::sha256sum(s.cache / good_name()) == fixture_sha256());
  }
  SECTION("a failed refresh leaves the cached file untouched") {
    struct stat before {};
    REQUIRE(::stat((s.cache / good_name()).c_str(), &before) == 0);
    for (const std::string failing :
         {"status-500/", "truncate/", "status-404/"}) {
      const CommandResult forced =
          s.download(failing + good_name(), {"--force", "--retries", "1"});
      check_download_failed(forced, s.server.url(failing + good_name()));
    }
    struct stat after {};
    REQUIRE(::stat((s.cache / good_name()).c_str(), &after) == 0);
    CHECK(after.st_ino == before.st_ino);
    CHECK(list_dir(s.cache) == Names{good_name()});
    CHECK(testing::sha256sum(s.cache / good_name()) == fixture_sha256());
  }
}

TEST_CASE("a download whose SHA-256 does not match its name is not cached",
          "[download][oracle]") {
  Scenario s;
  const CommandResult result = s.download("ok/resnet50-deadbeef.pth");
  check_download_failed(result, s.server.url("ok/resnet50-deadbeef.pth"));
  CHECK_THAT(result.err, Catch::Contains(fixture_sha256()) &&
                             Catch::Contains("does not start with deadbeef"));
  CHECK(line_count(result.err) == 1);
  CHECK(list_dir(s.cache).empty());
  CHECK(s.server.requests("/ok/resnet50-deadbeef.pth") == 1);  // no retry
}

TEST_CASE("a mirror serving other bytes as IMAGENET1K_V2 is rejected",
          "[download][oracle]") {
  Scenario s;
  const std::string mirrored = s.server.url("ok/" + kV2File);
  SECTION("weights download --mirror") {
    const CommandResult result =
        run_cli({"weights", "download", "IMAGENET1K_V2", "--mirror",
                 s.server.url("ok/")},
                s.env());
    check_download_failed(result, mirrored);
    CHECK_THAT(result.err, Catch::Contains("does not start with 11ad3fa6"));
  }
  SECTION("classify with RESNET_CLI_MIRROR") {
    const CommandResult result =
        run_cli({"classify", image()},
                s.env({{"RESNET_CLI_MIRROR", s.server.url("ok")}}));
    CHECK(result.exit_code == kExitModel);
    CHECK(result.out.empty());
    CHECK(line_count(result.err) == 1);
    CHECK_THAT(result.err, Catch::Contains(mirrored) &&
                               Catch::Contains((s.cache / kV2File).string()) &&
                               Catch::Contains("--weights-file") &&
                               Catch::Contains("11ad3fa6"));
  }
  CHECK(s.server.requests("/ok/" + kV2File) == 1);
  CHECK(list_dir(s.cache).empty());
}

TEST_CASE("HTTP 5xx and short bodies are retried, then the download succeeds",
          "[download][oracle]") {
  Scenario s;
  for (const std::string behaviour : {"status-500-2", "truncate-1"}) {
    INFO(behaviour);
    std::filesystem::remove_all(s.cache);
    const std::string path = behaviour + "/" + good_name();
    const CommandResult result = s.download(path);
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 0);
    CHECK(result.out == (s.cache / good_name()).string() + "\n");
    const int failures = behaviour == "status-500-2" ? 2 : 1;
    CHECK(s.server.requests("/" + path) == failures + 1);
    CHECK(line_count(result.err) == static_cast<std::size_t>(failures + 1));
    CHECK_THAT(result.err,
               Catch::Contains("retrying in 10 ms (attempt 2 of 4)") &&
                   Catch::Contains(behaviour == "status-500-2"
                                       ? "HTTP status 500"
                                       : "shorter than its Content-Length"));
    CHECK(list_dir(s.cache) == Names{good_name()});
    CHECK(testing::sha256sum(s.cache / good_name()) == fixture_sha256());
  }
}

TEST_CASE("HTTP errors, refused connections and short bodies fail cleanly",
          "[download][oracle]") {
  Scenario s;
  SECTION("HTTP 404: no retry") {
    const std::string path = "status-404/" + good_name();
    const CommandResult result = s.download(path);
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(result.err, Catch::EndsWith("HTTP status 404 (Not Found)\n"));
    CHECK(line_count(result.err) == 1);
    CHECK(s.server.requests("/" + path) == 1);
  }
  SECTION("HTTP 500 every time: the retries, then an error") {
    const std::string path = "status-500/" + good_name();
    const CommandResult result = s.download(path, {"--retries", "2"});
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(last_line(result.err),
               Catch::EndsWith("HTTP status 500 (Internal Server Error) (3 "
                               "attempts)"));
    CHECK(s.server.requests("/" + path) == 3);
  }
  SECTION("connection refused") {
    const std::string url =
        "http://127.0.0.1:" + std::to_string(testing::closed_port()) + "/ok/" +
        good_name();
    const CommandResult result =
        run_cli({"weights", "download", "--url", url}, s.env());
    check_download_failed(result, url);
    CHECK_THAT(last_line(result.err),
               Catch::Contains("Couldn't connect to server (4 attempts)"));
  }
  SECTION("a body shorter than its Content-Length") {
    const std::string path = "truncate/" + good_name();
    const CommandResult result = s.download(path);
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(last_line(result.err),
               Catch::Contains("the body is shorter than its Content-Length") &&
                   Catch::Contains("(4 attempts)"));
    CHECK(s.server.requests("/" + path) == 4);
  }
  SECTION("a stalled transfer") {
    const std::string path = "stall/" + good_name();
    const CommandResult result =
        s.download(path, {"--stall-timeout", "1", "--retries", "1"});
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(last_line(result.err),
               Catch::Contains("the transfer stalled (no data for 1 s)"));
    CHECK(s.server.requests("/" + path) == 2);
  }
  CHECK(list_dir(s.cache).empty());
}

TEST_CASE("a cache folder that cannot be written", "[download][oracle]") {
  Scenario s;
  const std::string path = "ok/" + good_name();
  SECTION("not writable") {
    std::filesystem::create_directories(s.cache);
    std::filesystem::permissions(s.cache,
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_exec |
                                     std::filesystem::perms::group_read |
                                     std::filesystem::perms::group_exec);
    RunOptions options;
    options.without_permission_override = true;  // root writes anywhere
    const CommandResult result =
        CliProcess({"weights", "download", "--url", s.server.url(path)},
                   s.env(), options)
            .wait();
    std::filesystem::permissions(s.cache, std::filesystem::perms::owner_all);
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(result.err,
               Catch::Contains("cannot write to the cache folder " +
                               s.cache.string() + ": Permission denied"));
    CHECK(list_dir(s.cache).empty());
  }
  SECTION("not creatable: TORCH_HOME is a file") {
    std::ofstream(s.torch_home / "hub") << "not a folder";
    const CommandResult result = s.download(path);
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(result.err, Catch::Contains("cannot create the cache folder " +
                                           s.cache.string()));
    CHECK(list_dir(s.torch_home) == Names{"hub"});
  }
  CHECK(s.server.total_requests() == 0);  // nothing fetched in vain
}

TEST_CASE("a full disk or a failing write leaves nothing behind",
          "[download][oracle]") {
  Scenario s;
  const std::string path = "ok/" + good_name();
  std::filesystem::create_directories(s.cache);
  SECTION("a 1 MiB tmpfs") {
    const TmpfsMount tmpfs(s.cache, "1m");
    if (!tmpfs.mounted()) {
      WARN(
          "cannot mount a tmpfs here (not root?): the RLIMIT_FSIZE section "
          "covers the write failure");
      return;
    }
    const CommandResult result = s.download(path);
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(result.err, Catch::Contains("No space left on device"));
    CHECK(list_dir(s.cache).empty());
  }
  SECTION("writes past RLIMIT_FSIZE fail with EFBIG") {
    RunOptions options;
    options.max_file_bytes = 1 << 20;
    const CommandResult result =
        CliProcess({"weights", "download", "--url", s.server.url(path)},
                   s.env(), options)
            .wait();
    check_download_failed(result, s.server.url(path));
    CHECK_THAT(result.err, Catch::Contains("File too large"));
    CHECK(s.server.requests("/" + path) == 1);  // not retried
  }
  CHECK(list_dir(s.cache).empty());
}

TEST_CASE("two processes downloading one file at once both succeed",
          "[download][oracle]") {
  Scenario s;
  // The server holds each request until both are in flight.
  const std::string path = "together-2/" + good_name();
  const std::vector<std::string> args = {"weights", "download", "--url",
                                         s.server.url(path)};
  RunOptions options;
  options.timeout_s = 300;
  CliProcess first(args, s.env(), options);
  CliProcess second(args, s.env(), options);
  const CommandResult first_result = first.wait();
  const CommandResult second_result = second.wait();
  INFO("first: " << first_result.err << "second: " << second_result.err);
  CHECK(first_result.exit_code == 0);
  CHECK(second_result.exit_code == 0);
  CHECK(first_result.out == (s.cache / good_name()).string() + "\n");
  CHECK(second_result.out == first_result.out);
  CHECK(s.server.stats().at("peak_in_flight").at("/" + path) == 2);
  CHECK(list_dir(s.cache) == Names{good_name()});
  CHECK(testing::sha256sum(s.cache / good_name()) == fixture_sha256());
}

TEST_CASE("an interrupted download leaves no partial file",
          "[download][oracle]") {
  Scenario s;
  RunOptions options;
  options.timeout_s = 120;
  // ~100 pieces 50 ms apart: seconds in which to interrupt it.
  CliProcess download(
      {"weights", "download", "--url", s.server.url("slow-50/" + good_name())},
      s.env(), options);
  // Interrupted mid-transfer: its partial file exists and the server is
  // sending.
  bool partial_seen = false;
  bool request_seen = false;
  for (int i = 0; i < 3000 && !(partial_seen && request_seen); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (const auto& name : list_dir(s.cache)) {
      partial_seen = partial_seen || (name.rfind(good_name() + ".", 0) == 0 &&
                                      Catch::endsWith(name, ".partial"));
    }
    request_seen = s.server.total_requests() == 1;
  }
  INFO("server: " << s.server.stats().dump());
  REQUIRE(partial_seen);
  REQUIRE(request_seen);
  download.send_signal(SIGINT);
  const CommandResult result = download.wait();
  CHECK(result.exit_code == 128 + SIGINT);
  CHECK(list_dir(s.cache).empty());
}

TEST_CASE("progress on a terminal: bytes, percent, rate, ETA",
          "[download][oracle]") {
  Scenario s;
  RunOptions options;
  options.stderr_on_terminal = true;
  options.timeout_s = 120;
  const CommandResult result =
      CliProcess({"weights", "download", "--url",
                  s.server.url("slow-20/" + good_name())},
                 s.env(), options)
          .wait();
  INFO("terminal: " << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out == (s.cache / good_name()).string() + "\n");
  CHECK_THAT(result.err,
             Catch::Contains("\rresnet-cli: " + good_name()) &&
                 Catch::Contains("% ") && Catch::Contains(" / 97.8 MiB") &&
                 Catch::Contains("MiB/s") && Catch::Contains("ETA "));
  CHECK_THAT(last_line(result.err), Catch::Contains("downloaded"));
  CHECK(list_dir(s.cache) == Names{good_name()});
}

TEST_CASE("classify downloads what it needs, then works offline",
          "[download][oracle]") {
  Scenario s;
  const std::vector<std::string> classify = {"classify", image(), "--format",
                                             "json"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = classify;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const CommandResult expected =
      run_cli(with({"--weights-file", fixture_checkpoint().string()}), s.env());
  REQUIRE(expected.exit_code == 0);

  const std::string url = s.server.url("ok/" + good_name());
  const CommandResult first = run_cli(with({"--weights-url", url}), s.env());
  INFO("stderr: " << first.err);
  CHECK(first.exit_code == 0);
  CHECK(first.out == expected.out);
  CHECK_THAT(first.err, Catch::StartsWith("resnet-cli: downloaded " + url));
  CHECK(list_dir(s.cache) == Names{good_name()});

  s.server.stop();
  const CommandResult second = run_cli(
      with({"--verify"}),
      s.env({{"RESNET_CLI_WEIGHTS_URL", url}, {"RESNET_CLI_OFFLINE", "1"}}));
  CHECK(second.exit_code == 0);
  CHECK(second.out == expected.out);
  CHECK(second.err.empty());
  CHECK(list_dir(s.cache) == Names{good_name()});
}

TEST_CASE("torch.hub and resnet-cli share one cache, each way",
          "[download][oracle]") {
  Scenario s;
  const std::string url = s.server.url("ok/" + good_name());
  const std::string load =
      "import sys, torch.hub\n"
      "state = torch.hub.load_state_dict_from_url(sys.argv[1], "
      "check_hash=True, map_location='cpu', progress=False)\n"
      "print(len(state))\n";
  SECTION("Python downloads, resnet-cli finds it") {
    const std::string count = run_python(load, {url}, s.env());
    CHECK(count == "320\n");
    CHECK(s.server.requests("/ok/" + good_name()) == 1);
    const CommandResult result =
        run_cli({"classify", image(), "--weights-url", url}, s.env());
    CHECK(result.exit_code == 0);
    CHECK(result.err.empty());
    CHECK(s.server.requests("/ok/" + good_name()) == 1);
  }
  SECTION("resnet-cli downloads, Python finds it with the server gone") {
    REQUIRE(run_cli({"weights", "download", "--url", url}, s.env()).exit_code ==
            0);
    s.server.stop();
    CHECK(run_python(load, {url}, s.env()) == "320\n");
  }
  SECTION("a file where torchvision keeps IMAGENET1K_V2 is used as is") {
    std::filesystem::create_directories(s.cache);
    std::filesystem::copy_file(fixture_checkpoint(), s.cache / kV2File);
    const CommandResult result =
        run_cli({"classify", image()},
                s.env({{"RESNET_CLI_MIRROR", s.server.url("ok/")}}));
    CHECK(result.exit_code == 0);
    CHECK(result.err.empty());
    CHECK(s.server.total_requests() == 0);
  }
  SECTION("the same folder as torch.hub.get_dir() for each environment") {
    const std::string get_dir =
        "import os, torch.hub\n"
        "print(os.path.join(torch.hub.get_dir(), 'checkpoints', "
        "'resnet50-11ad3fa6.pth'))\n";
    const auto home = testing::temp_dir("home");
    for (const auto& variables :
         std::vector<std::map<std::string, std::string>>{
             {{"TORCH_HOME", (home / "th").string()}},
             {{"TORCH_HOME", ""}, {"XDG_CACHE_HOME", (home / "xdg").string()}},
             {{"TORCH_HOME", ""},
              {"XDG_CACHE_HOME", ""},
              {"HOME", home.string()}}}) {
      const auto env = s.env(variables);
      const std::string python = run_python(get_dir, {}, env);
      const CommandResult ours = run_cli({"weights", "path", "DEFAULT"}, env);
      CHECK(ours.exit_code == 0);
      CHECK(ours.out == python);
    }
  }
}

TEST_CASE("classify --verify and weights verify catch a damaged cached file",
          "[download][oracle]") {
  Scenario s;
  std::filesystem::create_directories(s.cache);
  // Bytes that are not torchvision's under torchvision's name.
  std::filesystem::copy_file(fixture_checkpoint(), s.cache / kV2File);
  const auto env = s.env({{"RESNET_CLI_OFFLINE", "1"}});
  SECTION("classify trusts the cache by default, as torch.hub") {
    CHECK(run_cli({"classify", image()}, env).exit_code == 0);
  }
  SECTION("classify --verify") {
    const CommandResult result =
        run_cli({"classify", image(), "--verify"}, env);
    CHECK(result.exit_code == kExitModel);
    CHECK(result.out.empty());
    CHECK(line_count(result.err) == 1);
    CHECK_THAT(result.err, Catch::Contains((s.cache / kV2File).string()) &&
                               Catch::Contains(fixture_sha256()) &&
                               Catch::Contains("does not start with 11ad3fa6"));
  }
  SECTION("weights verify NAME and weights verify") {
    for (const auto& args :
         {Names{"weights", "verify", "DEFAULT"}, Names{"weights", "verify"}}) {
      const CommandResult result = run_cli(args, env);
      CHECK(result.exit_code == kExitModel);
      CHECK(result.out == (s.cache / kV2File).string() + ": MISMATCH, sha256 " +
                              fixture_sha256() +
                              " does not start with 11ad3fa6\n");
      CHECK_THAT(result.err, Catch::Contains((s.cache / kV2File).string()));
    }
    const CommandResult json =
        run_cli({"weights", "verify", "DEFAULT", "--format", "json"}, env);
    CHECK(json.exit_code == kExitModel);
    const auto report = nlohmann::json::parse(json.out);
    CHECK(report.at(0).at("sha256") == fixture_sha256());
    CHECK(report.at(0).at("expected_prefix") == "11ad3fa6");
    CHECK(report.at(0).at("matches") == false);
  }
  SECTION("weights verify of something that is not there") {
    CHECK(run_cli({"weights", "verify", "IMAGENET1K_V1"}, env).exit_code ==
          kExitModel);
    CHECK(
        run_cli({"weights", "verify", (s.cache / "nothing.pth").string()}, env)
            .exit_code == kExitModel);
  }
  CHECK(list_dir(s.cache) == Names{kV2File});  // reported, never deleted
}

TEST_CASE("without a network classify fails fast and says what to do",
          "[download][oracle]") {
  Scenario s;
  const std::string closed =
      "http://127.0.0.1:" + std::to_string(testing::closed_port());
  RunOptions options;
  options.timeout_s = 120;  // a guard against a hang, not a measurement
  // Default retry delays: what a user gets.
  SECTION("torchvision's own URL, through a proxy that refuses") {
    const CommandResult result =
        CliProcess(
            {"classify", image()},
            s.env({{"RESNET_CLI_RETRY_DELAY_MS", ""}, {"https_proxy", closed}}),
            options)
            .wait();
    CHECK(result.exit_code == kExitModel);
    CHECK(result.out.empty());
    CHECK_THAT(last_line(result.err),
               Catch::Contains(kV2Url) &&
                   Catch::Contains((s.cache / kV2File).string()) &&
                   Catch::Contains("--weights-file") &&
                   Catch::Contains("(4 attempts)"));
  }
  SECTION("a mirror nothing listens on") {
    const CommandResult result =
        CliProcess({"classify", image(), "--mirror", closed + "/models"},
                   s.env({{"RESNET_CLI_RETRY_DELAY_MS", ""}}), options)
            .wait();
    CHECK(result.exit_code == kExitModel);
    CHECK_THAT(last_line(result.err),
               Catch::Contains(closed + "/models/" + kV2File) &&
                   Catch::Contains((s.cache / kV2File).string()) &&
                   Catch::Contains("--weights-file"));
  }
  SECTION("--offline: no attempt at all") {
    const auto mirror = s.server.url("ok/");
    for (const auto& [args, env] :
         {std::pair{Names{"classify", image(), "--offline"},
                    s.env({{"RESNET_CLI_MIRROR", mirror}})},
          std::pair{Names{"classify", image()},
                    s.env({{"RESNET_CLI_MIRROR", mirror},
                           {"RESNET_CLI_OFFLINE", "1"}})}}) {
      const CommandResult result = run_cli(args, env);
      CHECK(result.exit_code == kExitModel);
      CHECK(line_count(result.err) == 1);
      CHECK_THAT(result.err,
                 Catch::Contains("downloads are off") &&
                     Catch::Contains(s.server.url("ok/" + kV2File)) &&
                     Catch::Contains((s.cache / kV2File).string()) &&
                     Catch::Contains("--weights-file"));
    }
    CHECK(s.server.total_requests() == 0);
  }
  CHECK(list_dir(s.cache).empty());
}

TEST_CASE("libcurl's proxy variables and file:// mirrors work",
          "[download][oracle]") {
  Scenario s;
  SECTION("http_proxy") {
    // A host that does not resolve: only the proxy can answer.
    const std::string url = "http://weights.invalid/ok/" + good_name();
    const CommandResult result =
        run_cli({"weights", "download", "--url", url},
                s.env({{"http_proxy", s.server.url("")}}));
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 0);
    CHECK(s.server.stats().at("proxied") == 1);
  }
  SECTION("file://") {
    const CommandResult result =
        run_cli({"weights", "download", "--url",
                 "file://" + (s.served / good_name()).string()},
                s.env());
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 0);
  }
  CHECK(list_dir(s.cache) == Names{good_name()});
  CHECK(testing::sha256sum(s.cache / good_name()) == fixture_sha256());
}
