# Writes a C++ source file that defines one function returning the bytes of a
# file, so that web pages and JSON documents ship inside the binary yet live
# in the tree as what they are. Run by add_custom_command (see
# vectord_embed_asset in src/CMakeLists.txt) as
#   cmake -DINPUT=page.html -DOUTPUT=page.cc -DHEADER=http/dashboard.h
#         -DFUNCTION=vectord::http::DashboardPage -P embed_asset.cmake
# FUNCTION is declared in HEADER as `std::string_view FUNCTION();`.
foreach(variable INPUT OUTPUT HEADER FUNCTION)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "embed_asset.cmake: ${variable} is not set")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
# 16 bytes a line, each as 0xNN.
string(REGEX REPLACE "([0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f])"
       "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(input_name "${INPUT}" NAME)

# unsigned char: bytes above 0x7f would narrow into a signed char. The array
# ends with a 0 that is not part of the file, so an empty file still gives a
# valid array.
file(WRITE "${OUTPUT}"
"// Generated from ${input_name} by cmake/embed_asset.cmake. Do not edit.
#include \"${HEADER}\"

namespace {
constexpr unsigned char kBytes[${size} + 1] = {
${bytes}0};
}  // namespace

std::string_view ${FUNCTION}() {
  return std::string_view(reinterpret_cast<const char*>(kBytes), ${size});
}
")
