// Quantities as people read them in progress lines and summaries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace resnet_cli {

// "512 B", "1.5 KiB", "97.8 MiB", "1.02 GiB".
std::string format_bytes(double bytes);
// "m:ss", or "h:mm:ss" from an hour on.
std::string format_duration(double seconds);
// "1 input", "2 inputs": the count and the noun in its number. `plural`
// defaults to `singular` + "s".
std::string count_of(std::uint64_t count, std::string_view singular,
                     std::string_view plural = {});
// "4.2 s" under a minute, else format_duration.
std::string format_seconds(double seconds);

}  // namespace resnet_cli
