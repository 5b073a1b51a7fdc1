// The input scanner, directly: folder order, extension filter, lists, shards,
// skips and the failures that become records.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "base/error.h"
#include "run/inputs.h"
#include "test_support.h"

using namespace resnet_cli;

namespace {

struct Scanned {
  std::string path;
  std::optional<ErrorKind> error;
  bool operator==(const Scanned& other) const {
    return path == other.path && error == other.error;
  }
};

std::ostream& operator<<(std::ostream& out, const Scanned& scanned) {
  out << scanned.path;
  if (scanned.error) out << " (" << error_kind_name(*scanned.error) << ")";
  return out;
}

std::vector<Scanned> scan(InputOptions options) {
  InputScanner scanner(std::move(options));
  std::vector<Scanned> inputs;
  for (Input input; scanner.next(input);) {
    inputs.push_back({input.path, input.error ? std::optional(input.error->kind)
                                              : std::nullopt});
  }
  return inputs;
}

// root/ b.JPG, a.png, notes.txt, sub/ c.webp, sub/z/d.jpg, sub.jpg (a file
// that sorts after the folder "sub").
std::filesystem::path make_tree(const std::string& name) {
  const auto root = testing::temp_dir(name);
  for (const char* file : {"b.JPG", "a.png", "notes.txt", "sub/c.webp",
                           "sub/z/d.jpg", "sub.jpg"}) {
    std::filesystem::create_directories((root / file).parent_path());
    testing::write_text(root / file, "x");
  }
  return root;
}

}  // namespace

TEST_CASE("scanner: folders in byte order, entered where they sort",
          "[inputs]") {
  const auto root = make_tree("scan-order").string();
  InputOptions options;
  options.paths = {root};
  CHECK(scan(options) == std::vector<Scanned>{{root + "/a.png", {}},
                                              {root + "/b.JPG", {}},
                                              {root + "/sub/c.webp", {}},
                                              {root + "/sub/z/d.jpg", {}},
                                              {root + "/sub.jpg", {}}});
  SECTION("--ext chooses extensions, any case") {
    options.extensions = parse_extensions("JPG,.webp");
    CHECK(scan(options) == std::vector<Scanned>{{root + "/b.JPG", {}},
                                                {root + "/sub/c.webp", {}},
                                                {root + "/sub/z/d.jpg", {}},
                                                {root + "/sub.jpg", {}}});
  }
  SECTION("a file named on the command line is taken whatever its name") {
    options.paths = {root + "/notes.txt", root + "/missing.jpg"};
    CHECK(scan(options) == std::vector<Scanned>{{root + "/notes.txt", {}},
                                                {root + "/missing.jpg", {}}});
  }
  SECTION("skipped paths (--resume) are left out") {
    options.skip = std::make_shared<std::unordered_set<std::string>>(
        std::unordered_set<std::string>{root + "/a.png", root + "/sub.jpg"});
    CHECK(scan(options).size() == 3);
  }
}

TEST_CASE("scanner: lists of paths, newline or NUL separated", "[inputs]") {
  const auto root = make_tree("scan-list");
  const auto list = root / "list.txt";
  testing::write_text(list, "one.jpg\n\ntwo words.png\n");
  InputOptions options;
  options.paths = {"first.jpg"};
  options.files_from = list.string();
  CHECK(scan(options) == std::vector<Scanned>{{"first.jpg", {}},
                                              {"one.jpg", {}},
                                              {"two words.png", {}}});
  testing::write_text(list, std::string("a\nb.jpg\0c.jpg\0", 14));
  options.paths.clear();
  options.null_separated = true;
  CHECK(scan(options) == std::vector<Scanned>{{"a\nb.jpg", {}}, {"c.jpg", {}}});
  options.files_from = (root / "no-such-list").string();
  CHECK_THROWS_AS(scan(options), Error);
}

TEST_CASE("scanner: shards split the inputs, each exactly once", "[inputs]") {
  InputOptions options;
  for (int i = 0; i < 50; ++i)
    options.paths.push_back(std::to_string(i) + ".jpg");
  std::vector<std::string> seen;
  for (int index = 0; index < 3; ++index) {
    options.shard = Shard{index, 3};
    const auto part = scan(options);
    CHECK(part.size() > 5);  // fnv1a64 spreads 50 names over 3 shards
    for (const Scanned& input : part) {
      CHECK(in_shard(input.path, Shard{index, 3}));
      seen.push_back(input.path);
    }
  }
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> all = options.paths;
  std::sort(all.begin(), all.end());
  CHECK(seen == all);
  CHECK(parse_shard("2/3").index == 2);
  CHECK_THROWS_AS(parse_shard("3/3"), Error);
  CHECK_THROWS_AS(parse_shard("x"), Error);
}

TEST_CASE("scanner: links that go nowhere or in circles become records",
          "[inputs]") {
  const auto root = testing::temp_dir("scan-links");
  std::filesystem::create_directories(root / "d");
  std::filesystem::create_symlink(root / "nowhere.jpg",
                                  root / "d/dangling.jpg");
  std::filesystem::create_directory_symlink(root / "d", root / "d/loop");
  const std::string d = (root / "d").string();
  InputOptions options;
  options.paths = {d};
  // Not following links to folders: the loop is never entered.
  CHECK(scan(options) ==
        std::vector<Scanned>{{d + "/dangling.jpg", ErrorKind::kNotFound}});
  options.follow_symlinks = true;
  CHECK(scan(options) ==
        std::vector<Scanned>{{d + "/dangling.jpg", ErrorKind::kNotFound},
                             {d + "/loop", ErrorKind::kSymlinkLoop}});
}
