/*
 * x2v platform plugin ABI (pure C).
 *
 * An out-of-tree backend (a vendor chip, a custom kernel library) is a shared library built against this
 * header ONLY. x2v finds it through X2V_PLUGIN_PATH (':'-separated files, or directories whose *.so files
 * are all loaded), opens it with dlopen(RTLD_NOW | RTLD_LOCAL), and calls two exported functions:
 *
 *   X2V_PLUGIN_EXPORT uint32_t x2v_plugin_abi_version(void) { return X2V_PLATFORM_ABI_VERSION; }
 *   X2V_PLUGIN_EXPORT int x2v_plugin_register(const x2v_host_api* host) { ... return X2V_OK; }
 *
 * x2v refuses a plugin whose x2v_plugin_abi_version() differs from its own X2V_PLATFORM_ABI_VERSION.
 * Inside x2v_plugin_register the plugin calls host->register_device, host->register_kernel and
 * host->register_alias. Registration is all-or-nothing: when x2v_plugin_register returns non-zero, nothing
 * the plugin registered is kept and the library is closed. A loaded plugin is never unloaded, so function
 * pointers and strings handed to x2v may point into the library's static data.
 *
 * Versioning. X2V_PLATFORM_ABI_VERSION changes whenever an existing field or signature changes. Within one
 * version, structs only grow at their end; each starts with `struct_size` (the sizeof the writer compiled
 * with), so an older plugin and a newer host (or the other way round) agree on the fields both know.
 *
 * Threading. x2v may call kernels from several threads, but never the same kernel instance concurrently.
 * Device callbacks (alloc, free, copy, synchronize) may be called from any thread.
 *
 * Return codes: X2V_OK (0) for success, any other value for failure; after a failure x2v asks the object's
 * last_error for a message to show the user.
 */
#ifndef X2V_PLATFORM_ABI_H
#define X2V_PLATFORM_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define X2V_PLATFORM_ABI_VERSION 1u

#if defined(_WIN32)
#define X2V_PLUGIN_EXPORT __declspec(dllexport)
#else
#define X2V_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#define X2V_OK 0
#define X2V_FAILED (-1)

/* ---- Element types. Explicit numbers: they are part of the ABI. ------------------------------------ */
#define X2V_DTYPE_F32 0     /* IEEE float32 */
#define X2V_DTYPE_BF16 1    /* bfloat16, stored as uint16_t bits */
#define X2V_DTYPE_F16 2     /* IEEE float16, stored as uint16_t bits */
#define X2V_DTYPE_F8_E4M3 3 /* float8_e4m3fn (no infinities, max 448), uint8_t bits */
#define X2V_DTYPE_F8_E5M2 4 /* float8_e5m2, uint8_t bits */
#define X2V_DTYPE_I8 5
#define X2V_DTYPE_I32 6
#define X2V_DTYPE_U8 7

/* ---- Log levels for x2v_host_api.log. ------------------------------------------------------------- */
#define X2V_LOG_DEBUG 0
#define X2V_LOG_INFO 1
#define X2V_LOG_WARN 2
#define X2V_LOG_ERROR 3

/* ---- Copy directions for x2v_device_desc.copy. ---------------------------------------------------- */
#define X2V_COPY_HOST_TO_DEVICE 0
#define X2V_COPY_DEVICE_TO_HOST 1
#define X2V_COPY_DEVICE_TO_DEVICE 2

/* ---- Tensors. ---------------------------------------------------------------------------------------
 * A view of memory x2v owns. `data` is the address of the first element (any view offset already
 * applied); it is device memory of the platform the kernel is registered on (host memory for "cpu").
 * Strides are in elements, not bytes, and may be anything a view can produce (transposes, slices); a
 * kernel that needs contiguous memory must check and fail with a message. An absent optional tensor is
 * passed as a view with data == NULL and ndim == 0, so positions never shift. */
#define X2V_MAX_DIMS 8

typedef struct x2v_tensor_view {
  void* data;
  int32_t dtype; /* X2V_DTYPE_* */
  int32_t ndim;  /* 0..X2V_MAX_DIMS */
  int64_t shape[X2V_MAX_DIMS];
  int64_t strides[X2V_MAX_DIMS];
} x2v_tensor_view;

/* ---- Devices. ---------------------------------------------------------------------------------------
 * A platform PLATFORM=<name> can select. x2v wraps it with its own caching allocator over alloc/free, and
 * a stream that runs work in order on the calling thread, calling synchronize when the host must wait.
 * All callbacks receive `user`. */
typedef struct x2v_device_desc {
  uint32_t struct_size;      /* sizeof(x2v_device_desc) */
  const char* name;          /* platform name, e.g. "ascend"; must not clash with a registered one */
  const char* device_string; /* e.g. "ascend:0"; NULL: the name */
  int32_t priority;          /* larger wins when PLATFORM is unset; cpu is 0. ABI 1 gives a plugin device no
                                default kernels, so a model cannot run on it: keep this below 0, so
                                only PLATFORM=<name> selects it */
  int32_t host_accessible;   /* non-zero: host code may read device memory directly (unified memory) */
  void* user;                /* passed back to every callback */
  /* Non-zero when the hardware is present and usable. NULL: always available. */
  int (*is_available)(void* user);
  /* Returns `bytes` of device memory (aligned to at least 64 bytes) or NULL when out of memory. */
  void* (*alloc)(void* user, size_t bytes);
  /* Frees memory from alloc; `bytes` is the size that was passed to alloc. */
  void (*free)(void* user, void* pointer, size_t bytes);
  /* Copies `bytes`; kind is X2V_COPY_*. May run asynchronously until synchronize. */
  int (*copy)(void* user, const void* source, void* target, size_t bytes, int32_t kind);
  /* Waits until every copy and kernel issued so far has completed. */
  int (*synchronize)(void* user);
  /* Message for the last failed callback on this thread; NULL or "" when there is none. Optional. */
  const char* (*last_error)(void* user);
  /* Called once when x2v destroys the device (process exit), after x2v returned its cached memory.
   * Optional. */
  void (*destroy)(void* user);
} x2v_device_desc;

/* ---- Kernels. ---------------------------------------------------------------------------------------
 * Kernel categories. Each matches one x2v op template (the headers in src/platform/ops/); a config key picks
 * a kernel of a category by name ("self_attn_1_type": "my_flash_attn").
 *
 * Every load and apply receives an x2v_kernel_args: tensors, float params and int params in the fixed
 * order listed here per category (load's tensors arrive as `inputs`, with no outputs). load runs once
 * before the first apply (with the default options when the layer set none). Before apply, x2v runs the
 * argument checks its own kernels use (shapes, activation dtypes f32/bf16/f16, strides; for conv only the
 * output shape, for elementwise only that every tensor is present), so a plugin mostly has to reject
 * what it does not implement (a dtype, a layout). Tensors given to load stay alive until destroy, so a
 * kernel may keep their pointers.
 *
 * X2V_KERNEL_ATTENTION    out = softmax(q k^T * scale) v per head, exact.
 *   load:  params [scale] (0: 1/sqrt(head_dim)); int_params key_lengths (may be empty)
 *   apply: inputs [q, k, v]; outputs [out]; params [scale] (resolved, never 0);
 *          int_params key_lengths: one per batch entry, keys at or past it are masked; empty: none.
 *          q/out [heads, q_len, head_dim], k/v [heads, kv_len, head_dim], or all four with a leading
 *          batch dim; only the last dim is guaranteed unit-stride. dtypes f32, bf16 or f16.
 * X2V_KERNEL_MM           y = x W^T + b, fp32 accumulation.
 *   load:  tensors [weight [out_features, in_features], bias [out_features] (optional)]
 *   apply: inputs [x [..., in_features]]; outputs [y [..., out_features]]; both contiguous.
 * X2V_KERNEL_RMS_NORM     out = x * rsqrt(mean(x^2) + eps) * weight over the last dim.
 *   load:  tensors [weight (optional)]; params [eps]
 *   apply: inputs [x]; outputs [out] (same shape, last dim unit-stride)
 * X2V_KERNEL_LAYER_NORM   out = (x - mean) * rsqrt(var + eps) * weight + bias over the last dim.
 *   load:  tensors [weight (optional), bias (optional)]; params [eps]
 *   apply: inputs [x]; outputs [out]
 * X2V_KERNEL_ROPE         Wan 3-D rotary embedding (see src/platform/ops/rope.h for the split).
 *   load:  params [theta]; int_params [head_dim]
 *   apply: inputs [x [tokens, heads, head_dim]]; outputs [out] (may be the same memory as x);
 *          int_params [frames, height, width]
 * X2V_KERNEL_CONV         2-D or 3-D convolution with per-side padding.
 *   load:  tensors [weight [C_out, C_in, (kD,) kH, kW], bias [C_out] (optional)];
 *          int_params [spatial_dims, stride[s], pad_begin[s], pad_end[s], dilation[s]] (s = spatial_dims,
 *          defaults filled in: 1 + 4*s entries)
 *   apply: inputs [x [(N,) C_in, (D,) H, W]]; outputs [out]
 * X2V_KERNEL_ELEMENTWISE  one op, named by the kernel name (copy, add, mul, gelu_tanh, gelu_erf, silu,
 *          modulate, gated_residual, softmax, scale, fill, channel_rms_norm, clamp; see
 *          src/platform/ops/elementwise.h).
 *   load:  params: the op's parameters: scale [multiplier, offset]; fill [value] (no inputs);
 *          clamp [low, high]; channel_rms_norm [eps, silu flag (0 or 1)]; the others none
 *   apply: inputs: the op's inputs in the order of elementwise.h; outputs [out]; params as at load
 */
#define X2V_KERNEL_ATTENTION 0
#define X2V_KERNEL_MM 1
#define X2V_KERNEL_RMS_NORM 2
#define X2V_KERNEL_LAYER_NORM 3
#define X2V_KERNEL_ROPE 4
#define X2V_KERNEL_CONV 5
#define X2V_KERNEL_ELEMENTWISE 6

typedef struct x2v_kernel_args {
  uint32_t struct_size; /* sizeof(x2v_kernel_args) */
  const x2v_tensor_view* inputs;
  int32_t input_count;
  const x2v_tensor_view* outputs; /* the views are const; the memory they point to is written */
  int32_t output_count;
  const float* params;
  int32_t param_count;
  const int64_t* int_params;
  int32_t int_param_count;
} x2v_kernel_args;

typedef struct x2v_kernel_desc {
  uint32_t struct_size;    /* sizeof(x2v_kernel_desc) */
  const char* description; /* one line describing the kernel; may be NULL */
  void* user;              /* passed to create */
  /* Makes one kernel instance (one per layer that uses the kernel); a NULL return is a failure. NULL
   * function: the kernel is stateless, every instance is `user` and destroy is not called. */
  void* (*create)(void* user);
  /* Frees an instance. Optional. */
  void (*destroy)(void* instance);
  /* Receives the weights and fixed options (see the category list). NULL: nothing to load. */
  int (*load)(void* instance, const x2v_kernel_args* args);
  /* Runs the op. Required. */
  int (*apply)(void* instance, const x2v_kernel_args* args);
  /* Message for the last failed load/apply of this instance. Optional but strongly advised. */
  const char* (*last_error)(void* instance);
} x2v_kernel_desc;

/* ---- The host. ---------------------------------------------------------------------------------------
 * Passed to x2v_plugin_register. The pointer stays valid for the life of the process, so a plugin may keep
 * it to log from its kernels; the register_* functions only succeed during x2v_plugin_register. Each
 * function takes the api itself first. Descriptors and their strings are copied, so they may live on the
 * plugin's stack. */
typedef struct x2v_host_api {
  uint32_t struct_size; /* sizeof(x2v_host_api) in the host */
  uint32_t abi_version; /* X2V_PLATFORM_ABI_VERSION of the host */
  void* context;        /* the host's; do not touch */
  /* Adds a platform. Fails when the name is taken or the descriptor is incomplete. */
  int (*register_device)(const struct x2v_host_api* host, const x2v_device_desc* desc);
  /* Adds kernel `name` of `category` (X2V_KERNEL_*) to `platform` ("cpu", or a device this plugin
   * registered earlier in the same call). Fails for an unknown platform or category, and for a name the
   * platform already has: a plugin adds kernels, it never replaces x2v's. */
  int (*register_kernel)(const struct x2v_host_api* host, const char* platform, int32_t category,
                         const char* name, const x2v_kernel_desc* desc);
  /* Makes `alias` (e.g. a LightX2V config name) select kernel `target` of the same category/platform. */
  int (*register_alias)(const struct x2v_host_api* host, const char* platform, int32_t category,
                        const char* alias, const char* target);
  /* Writes a line to x2v's log (X2V_LOG_LEVEL filters it); level is X2V_LOG_*. */
  void (*log)(const struct x2v_host_api* host, int32_t level, const char* message);
  /* Why the last failed register_* call failed. */
  const char* (*last_error)(const struct x2v_host_api* host);
} x2v_host_api;

/* The two functions every plugin exports. */
typedef uint32_t (*x2v_plugin_abi_version_fn)(void);
typedef int (*x2v_plugin_register_fn)(const x2v_host_api* host);

#define X2V_PLUGIN_ABI_VERSION_SYMBOL "x2v_plugin_abi_version"
#define X2V_PLUGIN_REGISTER_SYMBOL "x2v_plugin_register"

#ifdef __cplusplus
}
#endif

#endif /* X2V_PLATFORM_ABI_H */
