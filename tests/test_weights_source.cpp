// The weights source's decisions: a given file, the cache, a download (from
// torchvision's URL, a mirror or any URL), offline, verify, force.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "test_support.h"
#include "weights/download.h"
#include "weights/weights_source.h"

using namespace resnet_cli;

namespace {

// A checkpoint-like file whose name carries its own hash prefix, in a
// folder served as a file:// mirror, and an empty torch.hub cache.
struct Setup {
  std::filesystem::path root = testing::temp_dir("weights-source");
  std::filesystem::path mirror = root / "mirror";
  std::filesystem::path cache = root / "torch" / "hub" / "checkpoints";
  std::string name;
  testing::ScopedEnv env{{"TORCH_HOME", (root / "torch").c_str()}};

  Setup() {
    std::filesystem::create_directories(mirror);
    testing::write_text(mirror / "m.pth", "weights bytes");
    name = "m-" + testing::sha256sum(mirror / "m.pth").substr(0, 8) + ".pth";
    std::filesystem::rename(mirror / "m.pth", mirror / name);
  }
  std::string url() const { return "file://" + (mirror / name).string(); }
  FetchOptions fetch() const {
    FetchOptions options;
    options.download.retries = 0;
    return options;
  }
};

ErrorKind error_kind_of(const std::function<void()>& action,
                        std::string& message) {
  try {
    action();
  } catch (const Error& e) {
    message = e.what();
    return e.kind();
  }
  FAIL("no error");
  return ErrorKind::kUsage;
}

}  // namespace

TEST_CASE("weights source: a missing file is downloaded, then cached",
          "[weights]") {
  Setup s;
  const CacheEntry entry = url_cache_entry(s.url());
  CHECK(entry.path == s.cache / s.name);
  const CacheResult first = fetch_into_cache(entry, s.fetch());
  CHECK(first.downloaded);
  CHECK(testing::list_dir(s.cache) == std::vector<std::string>{s.name});
  // Cached: taken as it is, even with the source gone.
  std::filesystem::remove(s.mirror / s.name);
  const CacheResult second = fetch_into_cache(entry, s.fetch());
  CHECK_FALSE(second.downloaded);
  CHECK(second.path == first.path);
  // --force downloads again, and fails here: the source is gone, and the
  // cached file stays.
  std::string message;
  CHECK(error_kind_of([&] { fetch_into_cache(entry, s.fetch(), true); },
                      message) == ErrorKind::kDownload);
  CHECK(testing::list_dir(s.cache) == std::vector<std::string>{s.name});
}

TEST_CASE(
    "weights source: offline, a missing file is an error naming both "
    "the URL and the cache path",
    "[weights]") {
  Setup s;
  FetchOptions fetch = s.fetch();
  fetch.offline = true;
  std::string message;
  CHECK(
      error_kind_of([&] { fetch_into_cache(url_cache_entry(s.url()), fetch); },
                    message) == ErrorKind::kWeights);
  CHECK_THAT(message, Catch::Contains((s.cache / s.name).string()) &&
                          Catch::Contains(s.url()) &&
                          Catch::Contains("--weights-file"));
  CHECK(testing::list_dir(s.cache).empty());
}

TEST_CASE("weights source: --verify re-hashes a cached file", "[weights]") {
  Setup s;
  FetchOptions fetch = s.fetch();
  fetch.verify = true;
  const CacheEntry entry = url_cache_entry(s.url());
  fetch_into_cache(entry, fetch);
  CHECK_NOTHROW(fetch_into_cache(entry, fetch));
  testing::write_text(entry.path, "damaged");
  std::string message;
  CHECK(error_kind_of([&] { fetch_into_cache(entry, fetch); }, message) ==
        ErrorKind::kWeights);
  CHECK_THAT(message, Catch::Contains("does not start with"));
  // Without --verify the cache is trusted, as torch.hub trusts it.
  CHECK_NOTHROW(fetch_into_cache(entry, s.fetch()));
}

TEST_CASE("weights source: a mirror replaces torchvision's base URL",
          "[weights]") {
  Setup s;
  const WeightsInfo& v2 = find_weights("IMAGENET1K_V2");
  CHECK(registry_cache_entry(v2, "").url == v2.url);
  const CacheEntry mirrored = registry_cache_entry(v2, "http://m.lan/models");
  CHECK(mirrored.url == "http://m.lan/models/resnet50-11ad3fa6.pth");
  CHECK(mirrored.path == s.cache / "resnet50-11ad3fa6.pth");
  CHECK(mirrored.what == "weights IMAGENET1K_V2");
}

TEST_CASE("weights source: a file wins, then a URL, then the registry",
          "[weights]") {
  Setup s;
  const WeightsInfo& v2 = find_weights("IMAGENET1K_V2");
  const std::string file = (s.mirror / s.name).string();
  CHECK(resolve_weights_file({&v2, file, s.url()}, s.fetch()) == file);
  CHECK(resolve_weights_file({&v2, "", s.url()}, s.fetch()) ==
        s.cache / s.name);
  std::string message;
  CHECK(error_kind_of(
            [&] {
              resolve_weights_file({&v2, "/no/such.pth", ""}, s.fetch());
            },
            message) == ErrorKind::kWeights);
  CHECK(message == "/no/such.pth: weights file not found (--weights-file)");
  // A failed download names what was wanted, the cache path and the way out.
  FetchOptions fetch = s.fetch();
  fetch.mirror = "http://127.0.0.1:" + std::to_string(testing::closed_port());
  CHECK(error_kind_of(
            [&] {
              resolve_weights_file({&v2, "", ""}, fetch);
            },
            message) == ErrorKind::kDownload);
  CHECK_THAT(message,
             Catch::StartsWith("weights IMAGENET1K_V2 are not cached at " +
                               (s.cache / "resnet50-11ad3fa6.pth").string()) &&
                 Catch::Contains("--weights-file FILE"));
}

TEST_CASE("weights verify: which files it checks", "[weights]") {
  Setup s;
  CHECK(files_to_verify("").empty());
  std::string message;
  CHECK(error_kind_of([] { files_to_verify("IMAGENET1K_V1"); }, message) ==
        ErrorKind::kWeights);
  CHECK_THAT(message, Catch::Contains("weights download IMAGENET1K_V1"));
  std::filesystem::create_directories(s.cache);
  testing::write_text(s.cache / "resnet50-0676ba61.pth", "x");
  CHECK(files_to_verify("") ==
        std::vector<std::filesystem::path>{s.cache / "resnet50-0676ba61.pth"});
  CHECK(files_to_verify("IMAGENET1K_V1").front() ==
        s.cache / "resnet50-0676ba61.pth");
  const auto file = s.mirror / s.name;
  CHECK(files_to_verify(file.string()) ==
        std::vector<std::filesystem::path>{file});
  CHECK(error_kind_of([] { files_to_verify("/no/such/file"); }, message) ==
        ErrorKind::kWeights);
}
