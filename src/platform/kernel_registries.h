#pragma once
// The op categories and one kernel registry per category for a platform. This table of categories drives
// the registries, the plugin ABI's category codes, the host fallback and `x2v platforms`.
#include <array>
#include <string>
#include <type_traits>

#include "platform/ops/attention.h"
#include "platform/ops/conv.h"
#include "platform/ops/elementwise.h"
#include "platform/ops/mm.h"
#include "platform/ops/norm.h"
#include "platform/ops/rope.h"
#include "platform/registry.h"

namespace x2v {

// Values are the plugin ABI's X2V_KERNEL_* codes.
enum class KernelCategory : int { attention = 0, mm, rms_norm, layer_norm, rope, conv, elementwise };

inline constexpr std::array<KernelCategory, 7> kKernelCategories = {
    KernelCategory::attention, KernelCategory::mm,   KernelCategory::rms_norm,   KernelCategory::layer_norm,
    KernelCategory::rope,      KernelCategory::conv, KernelCategory::elementwise};

inline const char* category_name(KernelCategory category) {
  static constexpr const char* kNames[] = {"attention", "mm",   "rms_norm",   "layer_norm",
                                           "rope",      "conv", "elementwise"};
  return kNames[static_cast<int>(category)];
}

struct KernelRegistries {
  explicit KernelRegistries(const std::string& platform)
      : attention(category_name(KernelCategory::attention), platform),
        mm(category_name(KernelCategory::mm), platform),
        rms_norm(category_name(KernelCategory::rms_norm), platform),
        layer_norm(category_name(KernelCategory::layer_norm), platform),
        rope(category_name(KernelCategory::rope), platform),
        conv(category_name(KernelCategory::conv), platform),
        elementwise(category_name(KernelCategory::elementwise), platform) {}

  KernelRegistry<AttentionKernel> attention;
  KernelRegistry<MatmulKernel> mm;
  KernelRegistry<RmsNormKernel> rms_norm;
  KernelRegistry<LayerNormKernel> layer_norm;
  KernelRegistry<RopeKernel> rope;
  KernelRegistry<ConvKernel> conv;
  KernelRegistry<ElementwiseKernel> elementwise;
};

// The registry of kernels of type `Kernel`.
template <class Kernel>
KernelRegistry<Kernel>& registry_of(KernelRegistries& kernels) {
  if constexpr (std::is_same_v<Kernel, AttentionKernel>)
    return kernels.attention;
  else if constexpr (std::is_same_v<Kernel, MatmulKernel>)
    return kernels.mm;
  else if constexpr (std::is_same_v<Kernel, RmsNormKernel>)
    return kernels.rms_norm;
  else if constexpr (std::is_same_v<Kernel, LayerNormKernel>)
    return kernels.layer_norm;
  else if constexpr (std::is_same_v<Kernel, RopeKernel>)
    return kernels.rope;
  else if constexpr (std::is_same_v<Kernel, ConvKernel>)
    return kernels.conv;
  else
    return kernels.elementwise;
}

// The class, of one per op template given in category order, that implements `Kernel`: lets a backend or
// adapter family (plugin adapters, host fallbacks) map an op template to its own class in one line.
template <class Kernel, class Attention, class Matmul, class RmsNorm, class LayerNorm, class Rope, class Conv,
          class Elementwise>
using KernelClass = std::conditional_t<
    std::is_same_v<Kernel, AttentionKernel>, Attention,
    std::conditional_t<
        std::is_same_v<Kernel, MatmulKernel>, Matmul,
        std::conditional_t<
            std::is_same_v<Kernel, RmsNormKernel>, RmsNorm,
            std::conditional_t<std::is_same_v<Kernel, LayerNormKernel>, LayerNorm,
                               std::conditional_t<std::is_same_v<Kernel, RopeKernel>, Rope,
                                                  std::conditional_t<std::is_same_v<Kernel, ConvKernel>, Conv,
                                                                     Elementwise>>>>>>;

// Calls `visit(registry)` with the registry of `category`.
template <class Visit>
decltype(auto) visit_registry(KernelRegistries& kernels, KernelCategory category, Visit&& visit) {
  switch (category) {
    case KernelCategory::attention:
      return visit(kernels.attention);
    case KernelCategory::mm:
      return visit(kernels.mm);
    case KernelCategory::rms_norm:
      return visit(kernels.rms_norm);
    case KernelCategory::layer_norm:
      return visit(kernels.layer_norm);
    case KernelCategory::rope:
      return visit(kernels.rope);
    case KernelCategory::conv:
      return visit(kernels.conv);
    case KernelCategory::elementwise:
      return visit(kernels.elementwise);
  }
  return visit(kernels.elementwise);  // unreachable: every enumerator is handled above
}

// Calls `visit(category, registry)` for every category in table order.
template <class Visit>
void for_each_registry(KernelRegistries& kernels, Visit&& visit) {
  for (KernelCategory category : kKernelCategories)
    visit_registry(kernels, category, [&](auto& registry) { visit(category, registry); });
}

}  // namespace x2v
