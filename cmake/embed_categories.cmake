# Turns a list of names (data/imagenet_categories.txt, data/imagenet_wnids.txt:
# one a line) into a C++ array, so that it is compiled into the binary.
# Usage: cmake -DINPUT=<txt> -DOUTPUT=<cpp> [-DARRAY=<name> -DCOUNT=<name>]
#        -P embed_categories.cmake
if(NOT DEFINED ARRAY)
  set(ARRAY kImagenetCategories)
  set(COUNT kImagenetCategoryCount)
endif()
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
extern const char* const ${ARRAY}[];
extern const std::size_t ${COUNT};
const char* const ${ARRAY}[] = {
${body}};
const std::size_t ${COUNT} = ${count};
}  // namespace resnet_cli
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
