# Turns data/imagenet_categories.txt (one name a line) into a C++ array, so
# that the labels are compiled into the binary.
# Usage: cmake -DINPUT=<txt> -DOUTPUT=<cpp> -P embed_categories.cmake
file(STRINGS "${INPUT}" lines ENCODING UTF-8)
list(LENGTH lines count)
set(body "")
foreach(line IN LISTS lines)
  string(REPLACE "\\" "\\\\" line "${line}")
  string(REPLACE "\"" "\\\"" line "${line}")
  string(APPEND body "    \"${line}\",\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT}; do not edit.
#include <cstddef>

namespace resnet_cli {
extern const char* const kImagenetCategories[];
extern const std::size_t kImagenetCategoryCount;
const char* const kImagenetCategories[] = {
${body}};
const std::size_t kImagenetCategoryCount = ${count};
}  // namespace resnet_cli
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
