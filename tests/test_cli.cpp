// The command line: argv vectors both ways, then the binary end to end.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "exit_codes.h"
#include "image/decode.h"
#include "options.h"
#include "run/inputs.h"
#include "test_support.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;
using testing::checkpoint_fixture;
using testing::fixture;
using testing::fixture_env;
using testing::run_cli;

namespace {

struct Parsed {
  cli::ParseOutcome outcome;
  std::string out;
  std::string err;
};

Parsed parse(std::vector<std::string> args) {
  args.insert(args.begin(), "resnet-cli");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Parsed parsed;
  parsed.outcome = cli::parse_command_line(static_cast<int>(argv.size()),
                                           argv.data(), out, err);
  parsed.out = out.str();
  parsed.err = err.str();
  return parsed;
}

std::string base_name(const nlohmann::json& image) {
  return std::filesystem::path(image.at("file").get<std::string>())
      .filename()
      .string();
}

// Logits by class index from a record of --output-type logit --topk 1000.
std::vector<float> logits_from_record(const nlohmann::json& record) {
  std::vector<float> logits(1000, 0.0f);
  std::vector<bool> seen(1000, false);
  for (const auto& prediction : record.at("predictions")) {
    const auto index = prediction.at("index").get<std::size_t>();
    logits.at(index) = prediction.at("score").get<float>();
    seen.at(index) = true;
  }
  for (bool present : seen) REQUIRE(present);
  return logits;
}

}  // namespace

TEST_CASE("valid command lines parse", "[cli]") {
  SECTION("defaults") {
    const Parsed p = parse({"classify", "a.jpg"});
    REQUIRE(p.outcome.run);
    const ClassifySettings& s = p.outcome.settings.classify;
    CHECK(p.outcome.settings.command == cli::Command::kClassify);
    CHECK(s.input.paths == std::vector<std::string>{"a.jpg"});
    CHECK(s.weights == "DEFAULT");
    CHECK(s.topk == 5);
    CHECK(s.format == OutputFormat::kText);
    CHECK(s.output_type == OutputType::kProbability);
    CHECK(s.model.device == "cpu");
    CHECK_FALSE(s.decode.apply_exif_orientation);
    CHECK_FALSE(s.transform.resize_size);
  }
  SECTION("every classify option") {
    const Parsed p = parse({"classify",
                            "a.jpg",
                            "-",
                            "b.png",
                            "--weights",
                            "ResNet50_Weights.IMAGENET1K_V1",
                            "--weights-file",
                            "w.pth",
                            "-k",
                            "3",
                            "--output-type",
                            "logit",
                            "--format",
                            "JSON",
                            "--threads",
                            "1",
                            "--device",
                            "cuda:0",
                            "--resize",
                            "300",
                            "--crop",
                            "256",
                            "--interpolation",
                            "BICUBIC",
                            "--mean",
                            "0.5,0.5,0.5",
                            "--std",
                            "0.25,0.25,0.5",
                            "--exif",
                            "apply",
                            "--labels",
                            "names.txt"});
    REQUIRE(p.outcome.run);
    const ClassifySettings& s = p.outcome.settings.classify;
    CHECK(s.input.paths == std::vector<std::string>{"a.jpg", "-", "b.png"});
    CHECK(s.weights == "ResNet50_Weights.IMAGENET1K_V1");
    CHECK(s.weights_file == "w.pth");
    CHECK(s.topk == 3);
    CHECK(s.output_type == OutputType::kLogit);
    CHECK(s.format == OutputFormat::kJson);
    CHECK(s.model.threads == 1);
    CHECK(s.model.device == "cuda:0");
    CHECK(*s.transform.resize_size == 300);
    CHECK(*s.transform.crop_size == 256);
    CHECK(*s.transform.interpolation == Interpolation::kBicubic);
    CHECK((*s.transform.mean)[2] == 0.5f);
    CHECK((*s.transform.std)[2] == 0.5f);
    CHECK(s.decode.apply_exif_orientation);
    CHECK(s.labels_file == "names.txt");
  }
  SECTION("sizes in bytes take K, M, G and T, 1024-based") {
    const Parsed p = parse({"serve", "--max-body", "50M", "--body-memory",
                            "3GiB", "--decode-memory", "512kb"});
    REQUIRE(p.outcome.run);
    const ServerOptions& server = p.outcome.settings.serve.server;
    CHECK(server.max_body == 50u << 20);
    CHECK(server.body_memory == std::size_t{3} << 30);
    CHECK(server.decode_memory == 512u << 10);
    const Parsed plain = parse({"serve", "--max-body", "1000"});
    REQUIRE(plain.outcome.run);
    CHECK(plain.outcome.settings.serve.server.max_body == 1000);
  }
  SECTION("download options") {
    const Parsed defaults = parse({"classify", "a.jpg"});
    REQUIRE(defaults.outcome.run);
    const ClassifySettings& d = defaults.outcome.settings.classify;
    CHECK(d.weights_url.empty());
    CHECK(d.fetch.mirror.empty());
    CHECK_FALSE(d.fetch.offline);
    CHECK_FALSE(d.fetch.verify);
    CHECK(d.fetch.download.retries == 3);
    CHECK(d.fetch.download.retry_delay_ms == 500);
    CHECK(d.fetch.download.stall_timeout_s == 30);
    CHECK(d.fetch.download.progress);

    const Parsed p = parse({"-q", "classify", "a.jpg", "--weights-url",
                            "https://h.example/m-0123abcd.pth", "--mirror",
                            "http://mirror.lan/models/", "--offline",
                            "--verify", "--retries", "0", "--retry-delay", "20",
                            "--stall-timeout", "5"});
    INFO(p.err);
    REQUIRE(p.outcome.run);
    const ClassifySettings& s = p.outcome.settings.classify;
    CHECK(s.weights_url == "https://h.example/m-0123abcd.pth");
    CHECK(s.fetch.mirror == "http://mirror.lan/models/");
    CHECK(s.fetch.offline);
    CHECK(s.fetch.verify);
    CHECK(s.fetch.download.retries == 0);
    CHECK(s.fetch.download.retry_delay_ms == 20);
    CHECK(s.fetch.download.stall_timeout_s == 5);
    CHECK_FALSE(s.fetch.download.progress);  // -q
  }
  SECTION("download settings from the environment") {
    ::setenv("RESNET_CLI_OFFLINE", "1", 1);
    ::setenv("RESNET_CLI_MIRROR", "file:///srv/models", 1);
    ::setenv("RESNET_CLI_RETRY_DELAY_MS", "10", 1);
    const Parsed on = parse({"classify", "a.jpg"});
    ::setenv("RESNET_CLI_OFFLINE", "0", 1);
    const Parsed off = parse({"classify", "a.jpg"});
    ::unsetenv("RESNET_CLI_OFFLINE");
    ::unsetenv("RESNET_CLI_MIRROR");
    ::unsetenv("RESNET_CLI_RETRY_DELAY_MS");
    REQUIRE(on.outcome.run);
    CHECK(on.outcome.settings.classify.fetch.offline);
    CHECK(on.outcome.settings.classify.fetch.mirror == "file:///srv/models");
    CHECK(on.outcome.settings.classify.fetch.download.retry_delay_ms == 10);
    REQUIRE(off.outcome.run);
    CHECK_FALSE(off.outcome.settings.classify.fetch.offline);
  }
  SECTION("weights download, path and verify") {
    const Parsed by_name = parse({"weights", "download", "IMAGENET1K_V1",
                                  "--mirror", "http://m/", "--force"});
    REQUIRE(by_name.outcome.run);
    CHECK(by_name.outcome.settings.command == cli::Command::kWeightsDownload);
    CHECK(by_name.outcome.settings.weights.target == "IMAGENET1K_V1");
    CHECK(by_name.outcome.settings.weights.fetch.mirror == "http://m/");
    CHECK(by_name.outcome.settings.weights.force);
    const Parsed by_url =
        parse({"weights", "download", "--url", "http://h/m-12ab.pth"});
    REQUIRE(by_url.outcome.run);
    CHECK(by_url.outcome.settings.weights.url == "http://h/m-12ab.pth");
    CHECK(by_url.outcome.settings.weights.target.empty());
    const Parsed path = parse({"weights", "path", "default"});
    CHECK(path.outcome.settings.command == cli::Command::kWeightsPath);
    CHECK(path.outcome.settings.weights.target == "default");
    const Parsed verify_all = parse({"weights", "verify"});
    CHECK(verify_all.outcome.settings.command == cli::Command::kWeightsVerify);
    CHECK(verify_all.outcome.settings.weights.target.empty());
    const Parsed verify_file =
        parse({"weights", "verify", "my.pth", "--format", "json"});
    CHECK(verify_file.outcome.settings.weights.target == "my.pth");
    CHECK(verify_file.outcome.settings.weights.format == ReportFormat::kJson);
  }
  SECTION("environment variables give defaults, flags win") {
    ::setenv("RESNET_CLI_TOPK", "7", 1);
    ::setenv("RESNET_CLI_WEIGHTS", "IMAGENET1K_V1", 1);
    const Parsed from_env = parse({"classify", "a.jpg"});
    const Parsed from_flag = parse({"classify", "a.jpg", "--topk", "2"});
    // --weights is an option of every model command; the variable must not
    // reach classify's field through another command's option.
    const Parsed weights_flag =
        parse({"classify", "a.jpg", "--weights", "IMAGENET1K_V2"});
    ::unsetenv("RESNET_CLI_TOPK");
    ::unsetenv("RESNET_CLI_WEIGHTS");
    REQUIRE(from_env.outcome.run);
    CHECK(from_env.outcome.settings.classify.topk == 7);
    CHECK(from_env.outcome.settings.classify.weights == "IMAGENET1K_V1");
    CHECK(from_flag.outcome.settings.classify.topk == 2);
    CHECK(weights_flag.outcome.settings.classify.weights == "IMAGENET1K_V2");
  }
  SECTION("preprocess") {
    const Parsed p = parse({"preprocess", "a.jpg", "-o", "x.npy", "--png",
                            "c.png", "--weights", "IMAGENET1K_V1"});
    REQUIRE(p.outcome.run);
    CHECK(p.outcome.settings.command == cli::Command::kPreprocess);
    CHECK(p.outcome.settings.preprocess.input == "a.jpg");
    CHECK(p.outcome.settings.preprocess.npy_output == "x.npy");
    CHECK(p.outcome.settings.preprocess.png_output == "c.png");
  }
  SECTION("weights list and info") {
    CHECK(parse({"weights", "list"}).outcome.settings.command ==
          cli::Command::kWeightsList);
    const Parsed info =
        parse({"weights", "info", "DEFAULT", "--format", "json"});
    CHECK(info.outcome.settings.command == cli::Command::kWeightsInfo);
    CHECK(info.outcome.settings.weights.target == "DEFAULT");
    CHECK(info.outcome.settings.weights.format == ReportFormat::kJson);
  }
  SECTION("--help and --version exit 0 on stdout") {
    const Parsed help = parse({"classify", "--help"});
    CHECK_FALSE(help.outcome.run);
    CHECK(help.outcome.exit_code == 0);
    CHECK_THAT(help.out, Catch::Contains("--weights-file") &&
                             Catch::Contains("RESNET_CLI_WEIGHTS_FILE"));
    CHECK(help.err.empty());
    const Parsed version = parse({"--version"});
    CHECK(version.outcome.exit_code == 0);
    CHECK_FALSE(version.out.empty());
  }
}

TEST_CASE("invalid command lines exit 2 with one line on stderr", "[cli]") {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"classify"},
      {"classify", "a.jpg", "--bogus"},
      {"classify", "a.jpg", "--topk", "0"},
      {"classify", "a.jpg", "--topk", "many"},
      {"classify", "a.jpg", "--format", "xml"},
      {"classify", "a.jpg", "--output-type", "softmax"},
      {"classify", "a.jpg", "--weights", "IMAGENET1K_V3"},
      {"classify", "a.jpg", "--interpolation", "lanczos"},
      {"classify", "a.jpg", "--mean", "0.5,0.5"},
      {"classify", "a.jpg", "--std", "a,b,c"},
      {"classify", "a.jpg", "--resize", "0"},
      {"classify", "a.jpg", "--threads", "-1"},
      {"classify", "a.jpg", "--exif", "rotate"},
      {"classify", "a.jpg", "--precision", "fp8"},
      {"classify", "a.jpg", "--shard", "3/3"},
      {"classify", "a.jpg", "--progress", "sometimes"},
      {"bench", "--iterations", "0"},
      {"preprocess", "a.jpg"},
      {"preprocess", "a.jpg", "b.jpg", "-o", "x.npy"},
      {"weights"},
      {"weights", "info"},
      {"classify", "a.jpg", "--weights-file", "w.pth", "--weights-url",
       "http://h/m.pth"},
      {"classify", "a.jpg", "--weights-url", "http://h/"},
      {"classify", "a.jpg", "--mirror", "mirror.lan/models"},
      {"classify", "a.jpg", "--retries", "-1"},
      {"classify", "a.jpg", "--retry-delay", "soon"},
      {"classify", "a.jpg", "--stall-timeout", "0"},
      {"classify", "a.jpg", "--force"},
      {"classify", "a.jpg", "--url", "http://h/m.pth"},
      {"preprocess", "a.jpg", "-o", "x.npy", "--weights-url", "http://h/m.pth"},
      {"preprocess", "a.jpg", "-o", "x.npy", "--offline"},
      {"weights", "download"},
      {"weights", "download", "DEFAULT", "--url", "http://h/m.pth"},
      {"weights", "download", "IMAGENET1K_V3"},
      {"weights", "download", "--url", "http://h/"},
      {"weights", "download", "DEFAULT", "--offline"},
      {"weights", "path"},
      {"weights", "path", "IMAGENET1K_V3"},
      {"weights", "verify", "a.pth", "b.pth"},
      {"weights", "verify", "--format", "xml"},
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& arg : args) joined += arg + " ";
    INFO("argv: " << joined);
    const Parsed p = parse(args);
    CHECK_FALSE(p.outcome.run);
    CHECK(p.outcome.exit_code == kExitUsage);
    CHECK_THAT(p.err, Catch::StartsWith("resnet-cli: "));
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
    CHECK(p.out.empty());
  }
}

TEST_CASE("classify gives torchvision's logits for every test image",
          "[cli][oracle]") {
  for (const auto& [variant, weights] :
       {std::pair{"v2", "IMAGENET1K_V2"}, std::pair{"v1", "IMAGENET1K_V1"}}) {
    std::vector<std::string> args = {"classify",      "--format",  "json",
                                     "--output-type", "logit",     "--topk",
                                     "1000",          "--weights", weights};
    const auto& images = testing::manifest().at("images");
    for (const auto& image : images) {
      args.push_back(fixture(image.at("file").get<std::string>()).string());
    }
    const testing::CommandResult result = run_cli(args, fixture_env());
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    CHECK(result.err.empty());
    const nlohmann::json records = nlohmann::json::parse(result.out);
    REQUIRE(records.size() == images.size());
    for (std::size_t i = 0; i < images.size(); ++i) {
      const std::string name = base_name(images[i]);
      INFO(variant << " " << name);
      CHECK(records[i].at("path") ==
            fixture(images[i].at("file").get<std::string>()).string());
      const auto expected = testing::load_npy(fixture("ref/" + name + "." +
                                                      variant + ".logits.npy"))
                                .floats();
      const testing::Difference difference =
          testing::compare(logits_from_record(records[i]), expected);
      INFO("max |difference| " << difference.max_abs << ", max |logit| "
                               << difference.max_reference);
      CHECK(difference.relative() <= 1e-4);
    }
  }
}

TEST_CASE("classify prints probabilities, best first, with ImageNet labels",
          "[cli][oracle]") {
  const auto image = fixture("images/photo_500x375.jpg");
  const auto result =
      run_cli({"classify", image.string(), "--format", "json"}, fixture_env());
  REQUIRE(result.exit_code == 0);
  const auto record = nlohmann::json::parse(result.out).at(0);
  const auto expected =
      testing::load_npy(fixture("ref/photo_500x375.jpg.v2.logits.npy"))
          .floats();
  const auto best =
      std::max_element(expected.begin(), expected.end()) - expected.begin();
  const auto& predictions = record.at("predictions");
  REQUIRE(predictions.size() == 5);
  CHECK(predictions[0].at("rank") == 1);
  CHECK(predictions[0].at("index") == best);
  CHECK(predictions[0].at("label") == testing::manifest()
                                          .at("weights")
                                          .at("IMAGENET1K_V2")
                                          .at("categories")
                                          .at(static_cast<std::size_t>(best)));
  double previous = 1.0;
  for (const auto& prediction : predictions) {
    CHECK(prediction.at("score").get<double>() <= previous);
    previous = prediction.at("score").get<double>();
  }
  // Text output: a readable table, results only on stdout.
  const auto text =
      run_cli({"classify", image.string(), "-k", "2"}, fixture_env());
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::StartsWith(image.string() + "\n  rank  index"));
  CHECK(std::count(text.out.begin(), text.out.end(), '\n') == 4);
  CHECK(text.err.empty());
}

TEST_CASE("a bad input is recorded, the rest are classified, exit 1",
          "[cli][oracle]") {
  const auto folder = testing::temp_dir("bad-input");
  const auto html = folder / "page.png";
  std::ofstream(html) << "<html>not a png</html>";
  const auto good = fixture("images/photo_500x375.jpg");
  const auto result =
      run_cli({"classify", "--format", "json", html.string(),
               (folder / "missing.jpg").string(), good.string()},
              fixture_env());
  CHECK(result.exit_code == kExitInputFailed);
  const auto records = nlohmann::json::parse(result.out);
  REQUIRE(records.size() == 3);
  CHECK(records[0].at("error").at("kind") == "unsupported_format");
  CHECK(records[1].at("error").at("kind") == "not_found");
  CHECK(records[2].at("predictions").size() == 5);
  CHECK_THAT(result.err,
             Catch::Contains("page.png") && Catch::Contains("missing.jpg"));
}

TEST_CASE("one image from stdin", "[cli][oracle]") {
  std::ifstream in(fixture("images/gray_320x240.jpg"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  const auto result = run_cli({"classify", "-", "--format", "json",
                               "--output-type", "logit", "--topk", "1000"},
                              fixture_env(), bytes);
  REQUIRE(result.exit_code == 0);
  const auto record = nlohmann::json::parse(result.out).at(0);
  CHECK(record.at("path") == "-");
  const auto expected =
      testing::load_npy(fixture("ref/gray_320x240.jpg.v2.logits.npy")).floats();
  CHECK(testing::compare(logits_from_record(record), expected).relative() <=
        1e-4);
}

TEST_CASE("weights and checkpoint errors exit 3 with a clear message",
          "[cli][oracle]") {
  const auto image = fixture("images/photo_500x375.jpg").string();
  SECTION("weights not cached, downloads off") {
    const auto home = testing::temp_dir("empty-torch-home");
    auto env = fixture_env();
    env["TORCH_HOME"] = home.string();
    const auto result = run_cli({"classify", image}, env);
    CHECK(result.exit_code == kExitModel);
    CHECK(result.out.empty());
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK_THAT(
        result.err,
        Catch::Contains(
            "https://download.pytorch.org/models/resnet50-11ad3fa6.pth") &&
            Catch::Contains(
                (home / "hub/checkpoints/resnet50-11ad3fa6.pth").string()) &&
            Catch::Contains("--weights-file"));
  }
  SECTION("a pickle naming os.system") {
    const auto marker =
        fixture(testing::manifest().at("checkpoints").at("evil_marker"));
    std::filesystem::remove(marker);
    for (const std::string key : {"evil_os_system", "evil_torch_save"}) {
      const auto result = run_cli({"classify", image, "--weights-file",
                                   checkpoint_fixture(key).string()},
                                  fixture_env());
      CHECK(result.exit_code == kExitModel);
      CHECK_THAT(result.err,
                 Catch::Contains("refusing global") &&
                     Catch::Contains(checkpoint_fixture(key).string()));
    }
    CHECK_FALSE(std::filesystem::exists(marker));
  }
  SECTION("a ResNet18 state_dict") {
    const auto result =
        run_cli({"classify", image, "--arch", "resnet50", "--weights-file",
                 checkpoint_fixture("resnet18").string()},
                fixture_env());
    CHECK(result.exit_code == kExitModel);
    CHECK_THAT(result.err,
               Catch::Contains("missing keys: layer1.0.conv3.weight") &&
                   Catch::Contains("shape mismatch: layer1.0.conv1.weight") &&
                   Catch::Contains("ResNet18"));
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  SECTION("not a checkpoint") {
    const auto result = run_cli({"classify", image, "--weights-file",
                                 checkpoint_fixture("not_a_zip").string()},
                                fixture_env());
    CHECK(result.exit_code == kExitModel);
    CHECK_THAT(result.err, Catch::Contains("not a PyTorch checkpoint"));
  }
  SECTION("CUDA on a CPU build") {
#ifndef RESNET_CLI_TORCH_HAS_CUDA
    const auto result =
        run_cli({"classify", image, "--device", "cuda"}, fixture_env());
    CHECK(result.exit_code == kExitModel);
    CHECK_THAT(result.err, Catch::Contains("no CUDA support"));
#endif
  }
}

TEST_CASE("a fine-tuned head with its own labels", "[cli][oracle]") {
  const auto folder = testing::temp_dir("labels");
  const auto labels = folder / "labels.txt";
  {
    std::ofstream out(labels);
    for (int i = 0; i < 10; ++i) out << "class number " << i << "\n";
  }
  const auto image = fixture("images/photo_500x375.jpg").string();
  const auto weights = checkpoint_fixture("ten_classes").string();
  const auto result = run_cli({"classify", image, "--weights-file", weights,
                               "--labels", labels.string(), "--format", "json",
                               "--output-type", "logit", "-k", "10"},
                              fixture_env());
  REQUIRE(result.exit_code == 0);
  const auto predictions =
      nlohmann::json::parse(result.out).at(0).at("predictions");
  REQUIRE(predictions.size() == 10);
  const auto expected =
      testing::load_npy(fixture("ref/ten_classes.logits.npy")).floats();
  for (const auto& prediction : predictions) {
    const auto index = prediction.at("index").get<std::size_t>();
    CHECK(prediction.at("label") == "class number " + std::to_string(index));
    CHECK(prediction.at("score").get<double>() ==
          Approx(expected[index]).margin(1e-3));
  }
  SECTION("a labels file of the wrong length is a usage error") {
    const auto short_labels = folder / "short.txt";
    std::ofstream(short_labels) << "a\nb\n";
    const auto bad = run_cli({"classify", image, "--weights-file", weights,
                              "--labels", short_labels.string()},
                             fixture_env());
    CHECK(bad.exit_code == kExitUsage);
    CHECK_THAT(bad.err,
               Catch::Contains("has 2 labels but the model has 10 classes"));
  }
}

TEST_CASE("preprocess writes torchvision's tensor and PIL's crop",
          "[cli][oracle]") {
  const auto folder = testing::temp_dir("preprocess");
  for (const auto& [variant, weights] :
       {std::pair{"v2", "IMAGENET1K_V2"}, std::pair{"v1", "IMAGENET1K_V1"}}) {
    const auto npy = folder / (std::string(variant) + ".npy");
    const auto png = folder / (std::string(variant) + ".png");
    const auto result = run_cli(
        {"preprocess", fixture("images/photo_375x500.jpg").string(), "-o",
         npy.string(), "--png", png.string(), "--weights", weights});
    REQUIRE(result.exit_code == 0);
    CHECK(result.out.empty());
    const auto written = testing::load_npy(npy);
    CHECK(written.shape == std::vector<std::int64_t>{1, 3, 224, 224});
    CHECK(written.floats() ==
          testing::load_npy(fixture(std::string("ref/photo_375x500.jpg.") +
                                    variant + ".tensor.npy"))
              .floats());
    const RgbImage crop = decode_image_file(png);
    const auto expected = testing::load_npy(
        fixture(std::string("ref/photo_375x500.jpg.") + variant + ".crop.npy"));
    CHECK(crop.pixels == expected.data);
  }
}

TEST_CASE("weights list and info", "[cli][oracle]") {
  const auto list = run_cli({"weights", "list"}, fixture_env());
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out, Catch::Contains("IMAGENET1K_V1") &&
                           Catch::Contains("IMAGENET1K_V2") &&
                           Catch::Contains("DEFAULT"));
  // The fixture's torch.hub cache holds the test network under ResNet50's
  // registry names: weights verify calls both MISMATCH, and so does list;
  // the other entries are not cached.
  const auto verify = run_cli({"weights", "verify"}, fixture_env());
  CHECK(verify.exit_code == kExitModel);
  for (const std::string& line : testing::lines_of(list.out)) {
    const bool resnet50 = line.rfind("ResNet50_Weights.", 0) == 0;
    INFO(line);
    if (resnet50) {
      const std::string file = line.substr(line.rfind(' ') + 1);
      CHECK_THAT(verify.out, Catch::Contains(file + ": MISMATCH"));
      CHECK_THAT(line, Catch::Contains(" MISMATCH "));
    } else if (line.rfind("NAME", 0) != 0) {
      CHECK_THAT(line, Catch::Contains(" no "));
    }
  }
  const auto info = run_cli(
      {"weights", "info", "ResNet50_Weights.DEFAULT", "--format", "json"},
      fixture_env());
  REQUIRE(info.exit_code == 0);
  const auto meta = nlohmann::json::parse(info.out);
  const auto& expected = testing::manifest().at("weights").at("IMAGENET1K_V2");
  CHECK(meta.at("name") == "IMAGENET1K_V2");
  CHECK(meta.at("url") == expected.at("url"));
  CHECK(meta.at("file_name") == "resnet50-11ad3fa6.pth");
  CHECK(meta.at("num_params") == expected.at("num_params"));
  CHECK(meta.at("transforms").at("resize_size") == 232);
  CHECK(meta.at("categories") == expected.at("categories"));
  CHECK(meta.at("cached") == false);
  CHECK(meta.at("cache_mismatch") == true);
  const auto unknown = run_cli({"weights", "info", "V9"});
  CHECK(unknown.exit_code == kExitUsage);
  // An architecture's name means its DEFAULT, as --arch alone does.
  const auto by_arch =
      run_cli({"weights", "info", "resnet18", "--format", "json"});
  INFO(by_arch.err);
  REQUIRE(by_arch.exit_code == 0);
  CHECK(nlohmann::json::parse(by_arch.out).at("enum") ==
        "ResNet18_Weights.IMAGENET1K_V1");
}

TEST_CASE("bench reports forward-only and pipeline rates", "[cli][oracle]") {
  const auto result = run_cli(
      {"bench", fixture("images").string(), "--format", "json", "--iterations",
       "2", "--warmup", "1", "--resize", "64", "--crop", "56"},
      fixture_env());
  REQUIRE(result.exit_code == 0);
  const auto report = nlohmann::json::parse(result.out);
  CHECK(report.at("precision") == "fp32");
  CHECK(report.at("crop") == 56);
  CHECK(report.at("forward").at("images_per_second").get<double>() > 0);
  CHECK(report.at("forward").at("latency_ms").at("p95").get<double>() >=
        report.at("forward").at("latency_ms").at("p50").get<double>());
  const auto& pipeline = report.at("pipeline");
  CHECK(pipeline.at("images") == testing::manifest().at("images").size());
  CHECK(pipeline.at("failed") == 0);
  for (const char* stage : {"decode", "preprocess", "inference", "output"}) {
    CHECK(pipeline.at("stage_seconds").at(stage).get<double>() > 0);
  }
}

#ifdef RESNET_CLI_MODEL_MODULE
TEST_CASE("only the model module links LibTorch", "[cli][module]") {
  const std::string binary = RESNET_CLI_BINARY;
  const auto ldd = testing::run_command("ldd '" + binary + "'");
  REQUIRE(ldd.exit_code == 0);
  CHECK_THAT(ldd.out,
             !Catch::Contains("libtorch") && !Catch::Contains("libc10"));
  const auto module =
      std::filesystem::path(binary).parent_path() / "libresnet_cli_model.so";
  const auto module_ldd = testing::run_command("ldd '" + module.string() + "'");
  CHECK_THAT(module_ldd.out, Catch::Contains("libtorch_cpu"));
  const auto version = run_cli({"--version"});
  CHECK_THAT(version.out, Catch::Contains("model: module " + module.string()) &&
                              Catch::Contains("LibTorch 1.") &&
                              Catch::Contains("oneDNN "));
}

TEST_CASE("a missing model module is one line and exit 3", "[cli][module]") {
  // The binary alone, without the module beside it.
  const auto folder = testing::temp_dir("no-module");
  const auto binary = folder / "resnet-cli";
  std::filesystem::copy_file(RESNET_CLI_BINARY, binary);
  const auto help = testing::run_command("'" + binary.string() + "' --help");
  CHECK(help.exit_code == 0);  // what needs no model still works
  const auto version =
      testing::run_command("'" + binary.string() + "' --version");
  CHECK_THAT(version.out, Catch::Contains("(missing"));
  const auto result = testing::run_command(
      "'" + binary.string() + "' classify --weights-file '" +
      checkpoint_fixture("zip").string() + "' '" +
      fixture(testing::manifest().at("images")[0].at("file").get<std::string>())
          .string() +
      "'");
  CHECK(result.exit_code == kExitModel);
  CHECK(result.out.empty());
  CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  CHECK_THAT(result.err, Catch::StartsWith(
                             "resnet-cli: the model module "
                             "libresnet_cli_model.so is missing (looked for " +
                             (folder / "libresnet_cli_model.so").string()));
}
#endif

namespace {

const nlohmann::json& family_manifest() {
  return testing::manifest().at("family");
}

std::map<std::string, std::string> family_env() {
  auto env = fixture_env();
  env["TORCH_HOME"] =
      fixture(family_manifest().at("torch_home").get<std::string>()).string();
  return env;
}

// classify --output-type logit over `images`: the logits by image.
std::vector<std::vector<float>> classify_logits(
    std::vector<std::string> args, const std::vector<std::string>& images) {
  args.insert(args.begin(), {"classify", "--format", "json", "--output-type",
                             "logit", "--topk", "1000"});
  for (const auto& image : images) args.push_back(fixture(image).string());
  const auto result = run_cli(args, family_env());
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  std::vector<std::vector<float>> logits;
  for (const auto& record : nlohmann::json::parse(result.out)) {
    logits.push_back(logits_from_record(record));
  }
  return logits;
}

}  // namespace

TEST_CASE("a registry entry chooses the architecture and its transforms",
          "[cli][family][oracle]") {
  for (const auto& [entry, ref] : family_manifest().at("by_weights").items()) {
    INFO(entry);
    const auto images = ref.at("images").get<std::vector<std::string>>();
    const auto expected =
        testing::load_npy(fixture(ref.at("logits").get<std::string>()))
            .floats();
    const std::string enum_name = entry.substr(0, entry.find('.'));
    const std::string arch =
        testing::to_lower(enum_name.substr(0, enum_name.find("_Weights")));
    const std::string name = entry.substr(entry.find('.') + 1);
    // The enum spelling, any case, and --arch with the entry's name: the
    // same network, the same answers.
    for (const auto& args :
         {std::vector<std::string>{"--weights", entry, "--offline"},
          std::vector<std::string>{"--weights", testing::to_lower(entry)},
          std::vector<std::string>{"--arch", arch, "--weights", name}}) {
      const auto logits = classify_logits(args, images);
      REQUIRE(logits.size() == images.size());
      for (std::size_t i = 0; i < images.size(); ++i) {
        const std::vector<float> row(expected.begin() + i * 1000,
                                     expected.begin() + (i + 1) * 1000);
        const testing::Difference difference = testing::compare(logits[i], row);
        INFO(images[i] << ": max |difference| " << difference.max_abs);
        CHECK(difference.relative() <= 1e-4);
      }
    }
  }
  // --arch alone: its DEFAULT (ResNet18's is IMAGENET1K_V1).
  const auto& resnet18 =
      family_manifest().at("by_weights").at("ResNet18_Weights.IMAGENET1K_V1");
  const auto images = resnet18.at("images").get<std::vector<std::string>>();
  CHECK(
      classify_logits({"--arch", "resnet18"}, images) ==
      classify_logits({"--weights", "ResNet18_Weights.IMAGENET1K_V1"}, images));
}

TEST_CASE("each entry's transforms are torchvision's, bit for bit",
          "[cli][family][oracle]") {
  const auto folder = testing::temp_dir("family-preprocess");
  for (const auto& [entry, variant] :
       {std::pair{"ResNet18_Weights.IMAGENET1K_V1", "v1"},
        std::pair{"ResNet101_Weights.IMAGENET1K_V2", "v2"},
        std::pair{"Wide_ResNet50_2_Weights.IMAGENET1K_V1", "v1"}}) {
    for (const auto& image : testing::manifest().at("images")) {
      const auto file = image.at("file").get<std::string>();
      const std::string name = std::filesystem::path(file).filename().string();
      INFO(entry << " " << name);
      const auto npy = folder / (name + ".npy");
      const auto result = run_cli({"preprocess", fixture(file).string(),
                                   "--weights", entry, "-o", npy.string()},
                                  fixture_env());
      REQUIRE(result.exit_code == 0);
      CHECK(testing::load_npy(npy).data ==
            testing::load_npy(
                fixture("ref/" + name + "." + variant + ".tensor.npy"))
                .data);
    }
  }
}

TEST_CASE("a checkpoint file says what it is", "[cli][family][oracle]") {
  const auto& archs = family_manifest().at("archs");
  const auto checkpoint = [&](const std::string& arch) {
    return fixture(archs.at(arch).at("checkpoint").get<std::string>()).string();
  };
  const std::string image =
      fixture(testing::manifest().at("images")[0].at("file").get<std::string>())
          .string();
  SECTION("detected: ResNet34's features are 512 values") {
    const auto result =
        run_cli({"classify", image, "--weights-file", checkpoint("resnet34"),
                 "--output-type", "embedding", "--format", "json"},
                fixture_env());
    REQUIRE(result.exit_code == 0);
    CHECK(nlohmann::json::parse(result.out)[0].at("embedding").size() == 512);
  }
  SECTION("--arch must agree") {
    const auto result = run_cli({"classify", image, "--arch", "resnet18",
                                 "--weights-file", checkpoint("resnet50")},
                                fixture_env());
    CHECK(result.exit_code == kExitModel);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK_THAT(result.err,
               Catch::Contains("does not match torchvision's ResNet18 (it "
                               "looks like ResNet50"));
  }
  SECTION("not a ResNet at all") {
    const auto result = run_cli({"classify", image, "--weights-file",
                                 fixture(family_manifest()
                                             .at("checkpoints")
                                             .at("vgg_like")
                                             .get<std::string>())
                                     .string()},
                                fixture_env());
    CHECK(result.exit_code == kExitModel);
    CHECK_THAT(result.err, Catch::Contains("not a torchvision ResNet"));
  }
  SECTION("an enum of another architecture than --arch") {
    const auto result = run_cli({"classify", image, "--arch", "resnet18",
                                 "--weights", "ResNet50_Weights.IMAGENET1K_V2"},
                                fixture_env());
    CHECK(result.exit_code == kExitUsage);
  }
}

TEST_CASE("errors that teach, through the binary", "[cli][teach]") {
  const auto typo = run_cli({"clasify", "x.jpg"}, fixture_env());
  CHECK(typo.exit_code == kExitUsage);
  CHECK(typo.out.empty());
  CHECK(typo.err ==
        "resnet-cli: unknown command 'clasify'; did you mean 'classify'? (see "
        "resnet-cli --help)\n");
  auto env = fixture_env();
  env["RESNET_CLI_FORMAT"] = "bogus";
  const auto variable = run_cli({"classify", "x.jpg"}, env);
  CHECK(variable.exit_code == kExitUsage);
  CHECK_THAT(variable.err,
             Catch::StartsWith("resnet-cli: RESNET_CLI_FORMAT (the "
                               "environment's --format): 'bogus'"));
  const auto help = run_cli({"help", "weights", "list"}, fixture_env());
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("resnet-cli weights list"));
  const auto version = run_cli({"--version", "--format", "json"});
  CHECK(version.exit_code == 0);
  const auto facts = nlohmann::json::parse(version.out);
  CHECK(facts.at("default_threads").get<int>() >= 1);
#ifdef RESNET_CLI_TORCH_HAS_CUDA
  CHECK(facts.at("cuda_built") == true);
#else
  CHECK(facts.at("cuda_built") == false);
  CHECK_THAT(
      run_cli({"-V"}).out,
      Catch::Contains("\nCUDA: not built (this LibTorch is CPU-only)\n"));
#endif
}

TEST_CASE("topk above the model's classes: one warning, every class",
          "[cli][oracle][teach]") {
  const auto image = fixture("images/photo_500x375.jpg").string();
  const auto result =
      run_cli({"classify", image, fixture("images/gray_320x240.jpg").string(),
               "--weights-file", checkpoint_fixture("ten_classes").string(),
               "--format", "json", "--topk", "25"},
              fixture_env());
  REQUIRE(result.exit_code == 0);
  for (const auto& record : nlohmann::json::parse(result.out)) {
    CHECK(record.at("predictions").size() == 10);
  }
  // Once for the run, not once per image (the other warning is that the
  // model has no labels of its own).
  const std::string warning =
      "resnet-cli: warning: --topk 25 is more than the model's 10 classes; "
      "reporting all of them\n";
  CHECK_THAT(result.err, Catch::EndsWith(warning));
  CHECK(result.err.find("--topk") == result.err.rfind("--topk"));
  // RESNET_CLI_TOPK asks as --topk does.
  auto env = fixture_env();
  env["RESNET_CLI_TOPK"] = "25";
  const auto by_variable =
      run_cli({"classify", image, "--weights-file",
               checkpoint_fixture("ten_classes").string(), "--format", "json"},
              env);
  CHECK_THAT(by_variable.err, Catch::Contains("--topk 25 is more"));
}

TEST_CASE("topk not given: the default clamps to the classes in silence",
          "[cli][oracle][teach]") {
  // A 4-class ResNet18, as torch.save writes one, and its labels.
  const auto folder = testing::temp_dir("four-classes");
  const auto checkpoint = folder / "four.pth";
  const auto made = testing::run_command(
      std::string(RESNET_CLI_TEST_PYTHON) +
      " -c 'import sys, torch, torchvision; torch.manual_seed(0); "
      "torch.save(torchvision.models.resnet18(num_classes=4).state_dict(), "
      "sys.argv[1])' '" +
      checkpoint.string() + "'");
  REQUIRE(made.exit_code == 0);
  testing::write_text(folder / "labels.txt", "a\nb\nc\nd\n");
  const std::vector<std::string> args = {
      "classify",       fixture("images/photo_500x375.jpg").string(),
      "--weights-file", checkpoint.string(),
      "--labels",       (folder / "labels.txt").string(),
      "--format",       "json"};
  const auto result = run_cli(args, fixture_env());
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(nlohmann::json::parse(result.out)[0].at("predictions").size() == 4);
  CHECK(result.err.empty());
  // Asked for: all 4, and a word.
  auto asked = args;
  asked.insert(asked.end(), {"-k", "5"});
  const auto given = run_cli(asked, fixture_env());
  CHECK(nlohmann::json::parse(given.out)[0].at("predictions").size() == 4);
  CHECK(given.err ==
        "resnet-cli: warning: --topk 5 is more than the model's 4 classes; "
        "reporting all of them\n");
}

TEST_CASE("nothing to do is said, and is no failure", "[cli][oracle][teach]") {
  const auto folder = testing::temp_dir("nothing-to-do");
  const auto empty = folder / "empty";
  std::filesystem::create_directories(empty);
  const auto notes = folder / "notes";
  std::filesystem::create_directories(notes);
  testing::write_text(notes / "readme.txt", "not an image\n");
  std::filesystem::copy_file(fixture("images/photo_500x375.jpg"),
                             notes / "photo.jpg");
  const std::string default_extensions =
      "extensions picked up in folders: jpg,jpeg,jpe,jfif,mpo,png,";

  SECTION("an empty folder") {
    const auto result = run_cli(
        {"classify", empty.string(), "--format", "json"}, fixture_env());
    CHECK(result.exit_code == 0);
    CHECK(nlohmann::json::parse(result.out).empty());
    CHECK_THAT(result.err,
               Catch::StartsWith("resnet-cli: warning: nothing to classify "
                                 "in '" +
                                 empty.string() + "' (no files found); " +
                                 default_extensions) &&
                   Catch::EndsWith("(the default; --ext chooses)\n"));
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  SECTION("files of other extensions") {
    const auto result = run_cli(
        {"classify", notes.string(), "--ext", "png,webp"}, fixture_env());
    CHECK(result.exit_code == 0);
    CHECK(result.out.empty());
    CHECK(result.err == "resnet-cli: warning: nothing to classify in '" +
                            notes.string() +
                            "' (2 files with other extensions); extensions "
                            "picked up in folders: png,webp (--ext)\n");
  }
  SECTION("a shard with no inputs, and a run already recorded") {
    const std::string photo = (notes / "photo.jpg").string();
    const int other = in_shard(photo, Shard{0, 2}) ? 1 : 0;
    const auto shard =
        run_cli({"classify", photo, "--shard", std::to_string(other) + "/2"},
                fixture_env());
    CHECK(shard.exit_code == 0);
    CHECK(shard.err == "resnet-cli: warning: nothing to classify in '" + photo +
                           "' (1 input of other shards than " +
                           std::to_string(other) + "/2)\n");
    const auto output = (folder / "run.jsonl").string();
    const std::vector<std::string> resumed = {
        "classify", notes.string(), "-f", "jsonl", "-o", output, "--resume"};
    REQUIRE(run_cli(resumed, fixture_env()).exit_code == 0);
    const auto again = run_cli(resumed, fixture_env());
    CHECK(again.exit_code == 0);
    CHECK_THAT(again.err, Catch::Contains("1 file with other extensions, 1 "
                                          "input already recorded in " +
                                          output));
    // Everything recorded, no other file: the extensions are not why.
    const auto photos = folder / "photos";
    std::filesystem::create_directories(photos);
    std::filesystem::copy_file(notes / "photo.jpg", photos / "photo.jpg");
    const auto all_output = (folder / "all.jsonl").string();
    const std::vector<std::string> all = {
        "classify", photos.string(), "-f",      "jsonl",
        "-o",       all_output,      "--resume"};
    REQUIRE(run_cli(all, fixture_env()).exit_code == 0);
    const auto recorded = run_cli(all, fixture_env());
    CHECK(recorded.exit_code == 0);
    CHECK(recorded.err ==
          "resnet-cli: warning: nothing to classify in '" + photos.string() +
              "' (1 input already recorded in " + all_output + ")\n");
  }
}
