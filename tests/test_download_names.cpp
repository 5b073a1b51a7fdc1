// URL file names, mirrors and hash checks: the download module's rules that
// need no server.
#include <catch2/catch.hpp>
#include <fstream>

#include "base/error.h"
#include "exit_codes.h"
#include "test_support.h"
#include "weights/download.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;

TEST_CASE("a URL is cached under the last part of its path, as torch.hub",
          "[download]") {
  CHECK(url_file_name(
            "https://download.pytorch.org/models/resnet50-11ad3fa6.pth") ==
        "resnet50-11ad3fa6.pth");
  CHECK(url_file_name("https://h.example/a/m-0123abcd.pth?download=1#x") ==
        "m-0123abcd.pth");
  CHECK(url_file_name("http://127.0.0.1:8080/ok/model.pth") == "model.pth");
  CHECK(url_file_name("file:///srv/models/resnet50-11ad3fa6.pth") ==
        "resnet50-11ad3fa6.pth");
  for (const char* url :
       {"https://h.example/", "https://h.example", "https://h.example/a/..",
        "https://h.example/models/?file=x.pth"}) {
    INFO(url);
    try {
      url_file_name(url);
      FAIL("accepted a URL without a file name");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kUsage);
      CHECK_THAT(e.what(), Catch::Contains(url));
    }
  }
}

TEST_CASE("a mirror replaces torchvision's base URL", "[download]") {
  const std::string url =
      "https://download.pytorch.org/models/resnet50-11ad3fa6.pth";
  CHECK(mirror_url(url, "") == url);
  CHECK(mirror_url(url, "http://mirror.lan/torch/") ==
        "http://mirror.lan/torch/resnet50-11ad3fa6.pth");
  CHECK(mirror_url(url, "http://mirror.lan/torch") ==
        "http://mirror.lan/torch/resnet50-11ad3fa6.pth");
  CHECK(mirror_url(url, "file:///srv/models//") ==
        "file:///srv/models/resnet50-11ad3fa6.pth");
  CHECK(std::string(kTorchvisionDownloadBase) + "resnet50-11ad3fa6.pth" == url);
}

TEST_CASE("a file's whole SHA-256 against the prefix in its name",
          "[download]") {
  const auto folder = testing::temp_dir("hash-check");
  // SHA-256("abc") =
  // ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
  for (const auto& [name, matches, has_prefix] :
       {std::tuple{"abc-ba7816bf.bin", true, true},
        std::tuple{"abc-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff6"
                   "1f20015ad.bin",
                   true, true},
        std::tuple{"abc-b.bin", true, true},
        std::tuple{"abc-deadbeef.bin", false, true},
        std::tuple{"abc.bin", true, false}}) {
    INFO(name);
    const auto path = folder / name;
    std::ofstream(path, std::ios::binary) << "abc";
    const HashCheck check = check_file_hash(path);
    CHECK(check.sha256 ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(check.matches() == matches);
    CHECK(check.has_prefix() == has_prefix);
  }
  try {
    sha256_file(folder / "missing.pth");
    FAIL("hashed a missing file");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kWeights);
    CHECK_THAT(e.what(), Catch::Contains("missing.pth"));
  }
}

TEST_CASE("download errors exit 3 like the other weights errors",
          "[download]") {
  CHECK(exit_code_for(ErrorKind::kDownload) == kExitModel);
  CHECK(error_kind_name(ErrorKind::kDownload) == "download");
  CHECK_FALSE(is_input_error(ErrorKind::kDownload));
}
