#include "quant/quant_kernels.h"

#include <algorithm>

namespace x2v {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text.empty() ? "(none)" : text;
}

}  // namespace

std::vector<std::string> quantized_mm_names(Device& device) {
  auto& mm = device.kernels().mm;
  std::vector<std::string> names;
  for (const std::string& name : mm.names())
    if (mm.traits(name).quant != QuantFormat::none) names.push_back(name);
  for (const auto& [alias, target] : mm.aliases())
    if (mm.resolves(alias) && mm.traits(alias).quant != QuantFormat::none) names.push_back(alias);
  for (const auto& [name, target] : mm.lightx2v_names())
    if (mm.traits(name).quant != QuantFormat::none) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

QuantFormat mm_kernel_format(Device& device, const std::string& name, const std::string& config_key) {
  auto& mm = device.kernels().mm;
  if (!name.empty() && !mm.resolves(name)) {
    throw Error("quant", concat(config_key, " '", name, "' is not supported on platform '", device.name(),
                                "'; quantized schemes there: ", join(quantized_mm_names(device)),
                                " (or Default for unquantized weights)"));
  }
  return mm.traits(name).quant;
}

}  // namespace x2v
