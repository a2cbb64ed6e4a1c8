/*
 * Plugins that x2v must refuse, one per compile definition (see tests/plugin/tests.cmake):
 *   BROKEN_WRONG_ABI        reports platform ABI 7
 *   BROKEN_NO_REGISTER      lacks x2v_plugin_register
 *   BROKEN_REGISTER_FAILS   registers platform "broken", then a kernel on a platform that does not exist,
 *                           and reports failure: nothing of it may stay registered
 *   BROKEN_ABI_ONE          a plugin of platform ABI 1 (before traits, defaults, bias, streams)
 *   BROKEN_BAD_TRAITS       declares a quantized weight format on an rms_norm kernel
 *   BROKEN_LYING_TRAITS     registers on cpu "liar_rms_norm" (declares f32 and bf16, fails every call) and
 *                           "f32_rms_norm" (declares f32 only, fails every call)
 */
#include <stdlib.h>
#include <string.h>

#include "x2v/platform_abi.h"

#if defined(BROKEN_WRONG_ABI)
X2V_PLUGIN_EXPORT uint32_t x2v_plugin_abi_version(void) {
  return 7;
}
#elif defined(BROKEN_ABI_ONE)
X2V_PLUGIN_EXPORT uint32_t x2v_plugin_abi_version(void) {
  return 1;
}
#else
X2V_PLUGIN_EXPORT uint32_t x2v_plugin_abi_version(void) {
  return X2V_PLATFORM_ABI_VERSION;
}
#endif

#if !defined(BROKEN_NO_REGISTER)

static int broken_apply(void* instance, const x2v_kernel_args* args) {
  (void)instance;
  (void)args;
  return X2V_FAILED;
}

#if defined(BROKEN_BAD_TRAITS) || defined(BROKEN_LYING_TRAITS)

static const char* broken_error(void* instance) {
  (void)instance;
  return "this kernel fails every call";
}

X2V_PLUGIN_EXPORT int x2v_plugin_register(const x2v_host_api* host) {
  x2v_kernel_desc kernel;
  memset(&kernel, 0, sizeof(kernel));
  kernel.struct_size = sizeof(kernel);
  kernel.apply = broken_apply;
  kernel.last_error = broken_error;
#if defined(BROKEN_BAD_TRAITS)
  kernel.quant_format = X2V_QUANT_INT8;
  return host->register_kernel(host, "cpu", X2V_KERNEL_RMS_NORM, "quantized_norm", &kernel);
#else
  kernel.dtypes = X2V_DTYPE_BIT(X2V_DTYPE_F32) | X2V_DTYPE_BIT(X2V_DTYPE_BF16);
  if (host->register_kernel(host, "cpu", X2V_KERNEL_RMS_NORM, "liar_rms_norm", &kernel) != X2V_OK)
    return X2V_FAILED;
  kernel.dtypes = X2V_DTYPE_BIT(X2V_DTYPE_F32);
  return host->register_kernel(host, "cpu", X2V_KERNEL_RMS_NORM, "f32_rms_norm", &kernel);
#endif
}

#else

static void* broken_alloc(void* user, size_t bytes) {
  (void)user;
  return malloc(bytes);
}
static void broken_free(void* user, void* pointer, size_t bytes) {
  (void)user;
  (void)bytes;
  free(pointer);
}
static int broken_copy(void* user, const void* source, void* target, size_t bytes, int32_t kind) {
  (void)user;
  (void)kind;
  memcpy(target, source, bytes);
  return X2V_OK;
}
static int broken_synchronize(void* user) {
  (void)user;
  return X2V_OK;
}

X2V_PLUGIN_EXPORT int x2v_plugin_register(const x2v_host_api* host) {
  x2v_device_desc device;
  memset(&device, 0, sizeof(device));
  device.struct_size = sizeof(device);
  device.name = "broken";
  device.alloc = broken_alloc;
  device.free = broken_free;
  device.copy = broken_copy;
  device.synchronize = broken_synchronize;
  if (host->register_device(host, &device) != X2V_OK) return X2V_FAILED;

  x2v_kernel_desc kernel;
  memset(&kernel, 0, sizeof(kernel));
  kernel.struct_size = sizeof(kernel);
  kernel.apply = broken_apply;
  if (host->register_kernel(host, "broken", X2V_KERNEL_MM, "broken_mm", &kernel) != X2V_OK) return X2V_FAILED;
  if (host->register_kernel(host, "nowhere", X2V_KERNEL_MM, "broken_mm", &kernel) != X2V_OK)
    return X2V_FAILED;
  return X2V_OK;
}

#endif
#endif
