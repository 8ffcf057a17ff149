// Fuzz target: the lakehouse TOML config loader (http/config.h) on an
// arbitrary file passed with --config, as vectord reads it at start. Every
// input must load or give an InvalidArgument naming what is wrong; toml++
// exceptions must not escape.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "http/config.h"

using namespace vectord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      "/tmp/vectord-config-fuzz-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto config = http::LoadConfig({"--config", path}, {});
  if (!config.ok()) {
    if (config.status().code() != StatusCode::kInvalidArgument) std::abort();
  } else {
    (void)config->Describe();
  }
  return 0;
}
