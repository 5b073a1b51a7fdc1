// What stderr shows a person: the progress line and the summary, counts in
// their right number, colour only where asked for.
#include <catch2/catch.hpp>

#include "base/human_units.h"
#include "terminal.h"
#include "test_support.h"

using namespace resnet_cli;
using namespace resnet_cli::cli;

TEST_CASE("count_of: one input, two inputs", "[terminal]") {
  CHECK(count_of(0, "input") == "0 inputs");
  CHECK(count_of(1, "input") == "1 input");
  CHECK(count_of(2, "input") == "2 inputs");
  CHECK(count_of(1, "class", "classes") == "1 class");
  CHECK(count_of(10, "class", "classes") == "10 classes");
}

TEST_CASE(
    "progress line: the count as the scan finds it, then the total "
    "and an ETA",
    "[terminal]") {
  const Colors plain(false);
  ProgressState state;
  state.ok = 12;
  state.seconds = 4;
  // No count ahead of the run (a list on stdin).
  CHECK(progress_line(state, plain) == "12 done, 0 failed, 3.0 img/s");
  // The scan is still counting.
  state.found = 340;
  CHECK(progress_line(state, plain) ==
        "12 done of 340 found so far, 0 failed, 3.0 img/s");
  // It has finished: the total, the share done and the time left.
  state.complete = true;
  state.failed = 3;
  CHECK(progress_line(state, plain) ==
        "15/340 done (4%), 3 failed, 3.8 img/s, ETA 1:27");
  state.ok = 337;
  CHECK(progress_line(state, plain) ==
        "340/340 done (100%), 3 failed, 85.0 img/s");
}

TEST_CASE("summary: singular and plural, interrupted said first",
          "[terminal]") {
  const Colors plain(false);
  ProgressState state;
  state.ok = 1;
  state.seconds = 0.5;
  CHECK(progress_summary(state, false, plain) ==
        "1 input: 1 ok, 0 failed, 0.5 s, 2.0 img/s");
  state.failed = 1;
  CHECK(progress_summary(state, true, plain) ==
        "interrupted after 2 inputs: 1 ok, 1 failed, 0.5 s, 4.0 img/s");
}

TEST_CASE("colour: ANSI escapes only when on", "[terminal]") {
  ProgressState state;
  state.ok = 2;
  state.failed = 1;
  state.seconds = 1;
  CHECK(progress_summary(state, false, Colors(true)) ==
        "3 inputs: \x1b[32m2 ok\x1b[0m, \x1b[31m1 failed\x1b[0m, 1.0 s, 3.0 "
        "img/s");
  CHECK(progress_line(state, Colors(true)) ==
        "\x1b[1m3 done\x1b[0m, \x1b[31m1 failed\x1b[0m, 3.0 img/s");
  CHECK(use_color(ColorMode::kAlways, -1));
  CHECK_FALSE(use_color(ColorMode::kNever, -1));
  // auto: a terminal without NO_COLOR; a closed descriptor is none.
  CHECK_FALSE(use_color(ColorMode::kAuto, -1));
  {
    const testing::ScopedEnv env{{"NO_COLOR", "1"}};
    CHECK(use_color(ColorMode::kAlways, -1));  // the flag wins
  }
}
