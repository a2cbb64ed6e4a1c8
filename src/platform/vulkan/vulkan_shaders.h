#pragma once
// The compute shaders, compiled to SPIR-V by glslc at build time and embedded (cmake/embed_spirv.cmake).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace x2v::vulkan {

struct ShaderCode {
  const char* name;  // the .comp file name without extension
  const uint32_t* words;
  size_t word_count;
};

const std::vector<ShaderCode>& shader_table();

// Whether this build embeds shader `name` (variants built only where glslc supports them).
bool shader_embedded(const std::string& name);

}  // namespace x2v::vulkan
