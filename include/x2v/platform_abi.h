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
 * Inside x2v_plugin_register the plugin calls host->register_device, host->register_kernel,
 * host->register_alias and host->register_default.
 *
 * ABI 2 (this header) added to ABI 1: kernel traits (dtypes, quant format, flags) and a default kernel per
 * category; attention's additive bias; quantized mm; device capabilities and memory figures; streams and
 * events. A plugin built for ABI 1 is refused: rebuild it against this header. Registration is
 * all-or-nothing: when x2v_plugin_register returns non-zero, nothing the plugin registered is kept and the
 * library is closed. A loaded plugin is never unloaded, so function pointers and strings handed to x2v may
 * point into the library's static data.
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

#define X2V_PLATFORM_ABI_VERSION 2u

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

/* ---- Device capabilities and memory. ------------------------------------------------------------ */
#define X2V_DEVICE_CAP_F16 (1u << 0)        /* computes f16 natively */
#define X2V_DEVICE_CAP_BF16 (1u << 1)       /* computes bf16 natively */
#define X2V_DEVICE_CAP_INT8 (1u << 2)       /* int8 matmul (W8A8) */
#define X2V_DEVICE_CAP_FP8 (1u << 3)        /* float8 matmul */
#define X2V_DEVICE_CAP_ASYNC_COPY (1u << 4) /* copy_async overlaps with kernels on other streams */

/* Memory figures in bytes; 0 where unknown. */
typedef struct x2v_memory_info {
  uint32_t struct_size;          /* sizeof(x2v_memory_info) of the caller (x2v) */
  uint64_t total_bytes;          /* device memory in all */
  uint64_t free_bytes;           /* what is free now */
  uint64_t largest_allocation;   /* the largest single alloc that can succeed */
  uint64_t largest_buffer_range; /* the largest range one kernel argument may span (e.g. a GPU API's
                                    maximum storage buffer range); 0: no limit beyond allocation */
} x2v_memory_info;

/* ---- Devices. ---------------------------------------------------------------------------------------
 * A platform PLATFORM=<name> can select. x2v wraps it with its own caching allocator over alloc/free.
 * All callbacks receive `user`.
 *
 * Streams and events are optional. Without create_stream, x2v runs everything in order on one queue and
 * calls synchronize when the host must wait; copy, synchronize and every kernel call then get stream NULL.
 * With them, each x2v stream is one plugin stream (NULL always means the device's default stream), copies
 * go through copy_async, kernel calls carry the stream in x2v_kernel_args.stream, and x2v orders streams
 * only through record_event/stream_wait_event. */
typedef struct x2v_device_desc {
  uint32_t struct_size;      /* sizeof(x2v_device_desc) */
  const char* name;          /* platform name, e.g. "ascend"; must not clash with a registered one */
  const char* device_string; /* e.g. "ascend:0"; NULL: the name */
  int32_t priority;          /* larger wins when PLATFORM is unset; cpu is 0. Keep a device below 0 until it
                                runs whole models at least as fast as the cpu */
  int32_t host_accessible;   /* non-zero: host code may read device memory directly (unified memory) */
  void* user;                /* passed back to every callback */
  uint32_t capabilities;     /* X2V_DEVICE_CAP_* */
  /* Non-zero when the hardware is present and usable. NULL: always available. */
  int (*is_available)(void* user);
  /* Returns `bytes` of device memory (aligned to at least 64 bytes) or NULL when out of memory. Device
   * addresses must be linear (x2v adds byte offsets to them for views) but need not be host addresses. */
  void* (*alloc)(void* user, size_t bytes);
  /* Frees memory from alloc; `bytes` is the size that was passed to alloc. */
  void (*free)(void* user, void* pointer, size_t bytes);
  /* Copies `bytes`; kind is X2V_COPY_*. On the default stream; may run asynchronously until synchronize. */
  int (*copy)(void* user, const void* source, void* target, size_t bytes, int32_t kind);
  /* Waits until every copy and kernel issued so far, on every stream, has completed. */
  int (*synchronize)(void* user);
  /* Message for the last failed callback on this thread; NULL or "" when there is none. Optional. */
  const char* (*last_error)(void* user);
  /* Called once when x2v destroys the device (process exit), after x2v returned its cached memory.
   * Optional. */
  void (*destroy)(void* user);
  /* Fills `info` (its struct_size is set by x2v). Optional: NULL reports nothing known. */
  int (*memory_info)(void* user, x2v_memory_info* info);
  /* Streams (optional, all or none of create_stream, destroy_stream, copy_async, stream_synchronize). */
  void* (*create_stream)(void* user); /* NULL return: failure */
  void (*destroy_stream)(void* user, void* stream);
  /* Like copy, ordered on `stream`. Host memory passed here stays valid until the stream reaches the copy. */
  int (*copy_async)(void* user, const void* source, void* target, size_t bytes, int32_t kind, void* stream);
  int (*stream_synchronize)(void* user, void* stream); /* waits for everything issued to `stream` */
  /* Events (optional, all or none; only with streams). An event marks a point of one stream. */
  void* (*create_event)(void* user); /* NULL return: failure */
  void (*destroy_event)(void* user, void* event);
  int (*record_event)(void* user, void* event, void* stream);      /* marks the current end of stream */
  int (*stream_wait_event)(void* user, void* stream, void* event); /* later work on stream waits */
  int (*event_synchronize)(void* user, void* event);               /* host waits; at once if unrecorded */
} x2v_device_desc;

/* ---- Kernels. ---------------------------------------------------------------------------------------
 * Kernel categories. Each matches one x2v op template (the headers in src/platform/ops/); a config key picks
 * a kernel of a category by name ("self_attn_1_type": "my_flash_attn"). A category without a kernel on a
 * plugin device runs the cpu's kernel through host copies (one log line names it; `x2v platforms` lists
 * native and fallback categories per device).
 *
 * Every load and apply receives an x2v_kernel_args: tensors, float params and int params in the fixed
 * order listed here per category (load's tensors arrive as `inputs`, with no outputs). load runs once
 * before the first apply (with the default options when the layer set none). Before apply, x2v runs the
 * argument checks its own kernels use (shapes, the dtypes the kernel declared, strides; for conv only the
 * output shape, for elementwise only that every tensor is present), so a plugin mostly has to reject
 * what it does not implement (a layout), with a message. Tensors given to load stay alive until destroy,
 * so a kernel may keep their pointers.
 *
 * X2V_KERNEL_ATTENTION    out = softmax(q k^T * scale + bias) v per head, exact.
 *   load:  params [scale] (0: 1/sqrt(head_dim))
 *   apply: inputs [q, k, v, bias]; outputs [out]; params [scale] (resolved, never 0);
 *          int_params key_lengths: one per batch entry, keys at or past it are masked; empty: none.
 *          The bias and key lengths change from call to call; keep no state from them.
 *          q/out [heads, q_len, head_dim], k/v [heads, kv_len, head_dim], or all four with a leading
 *          batch dim; only the last dim is guaranteed unit-stride. bias: absent, or (only for a kernel
 *          with X2V_KERNEL_FLAG_BIAS) f32 [heads, q_len, kv_len], contiguous, the same for every batch
 *          entry, added to the scaled logits (T5's relative position bias); masked keys stay masked.
 * X2V_KERNEL_MM           y = x W^T + b, fp32 accumulation.
 *   load:  quant_format X2V_QUANT_NONE: tensors [weight [out_features, in_features] (f32, bf16 or f16),
 *          bias [out_features] (optional)].
 *          X2V_QUANT_INT8 / X2V_QUANT_FP8_E4M3: tensors [weight [out, in] (i8 / f8_e4m3), scale f32 [out]
 *          (W[o, i] = weight[o, i] * scale[o], symmetric per output channel), bias (optional)].
 *          INT8 is W8A8: each row of x is quantized to int8 per token (scale amax/127, round half to
 *          even) before the product; FP8 is weight-only (x stays in its dtype).
 *   apply: inputs [x [..., in_features]]; outputs [y [..., out_features]]; both contiguous.
 * X2V_KERNEL_RMS_NORM     out = x * rsqrt(mean(x^2) + eps) * weight over the last dim.
 *   load:  tensors [weight (optional)]; params [eps]
 *   apply: inputs [x]; outputs [out] (same shape; rows may be strided, the last dim is unit-stride)
 * X2V_KERNEL_LAYER_NORM   out = (x - mean) * rsqrt(var + eps) * weight + bias over the last dim.
 *   load:  tensors [weight (optional), bias (optional)]; params [eps]
 *   apply: inputs [x]; outputs [out]
 * X2V_KERNEL_ROPE         rotary embedding with tables the model builds: for token t and pair j (dims 2j
 *          and 2j+1, interleaved), out = (x0 * cos[t, j] - x1 * sin[t, j], x0 * sin[t, j] + x1 * cos[t, j]).
 *   load:  nothing
 *   apply: inputs [x [tokens, heads, head_dim], cos f32 [tokens, head_dim / 2], sin (same)];
 *          outputs [out] (may be the same memory as x)
 * X2V_KERNEL_CONV         2-D or 3-D convolution with per-side padding.
 *   load:  tensors [weight [C_out, C_in, (kD,) kH, kW], bias [C_out] (optional)];
 *          int_params [spatial_dims, stride[s], pad_begin[s], pad_end[s], dilation[s]] (s = spatial_dims,
 *          defaults filled in: 1 + 4*s entries)
 *   apply: inputs [x [(N,) C_in, (D,) H, W]]; outputs [out]
 * X2V_KERNEL_ELEMENTWISE  one op, named by the kernel name (see src/platform/ops/elementwise.h):
 *          copy [x] (any strides, any dtype conversion); add, mul [a, b] (b's shape a suffix of a's);
 *          gelu_tanh, gelu_erf, silu, softmax (last dim) [x]; modulate [x, shift, scale]:
 *          x * (1 + scale) + shift; gated_residual [residual, y, gate]: residual + y * gate;
 *          scale [x]: x * params[0] + params[1]; fill []: params[0]; clamp [x]: min(max(x, params[0]),
 *          params[1]); channel_l2_norm [x, gamma]: x [C, ...] / max(||x[:, i]||_2, params[0]) * sqrt(C) *
 *          gamma[c], then SiLU when params[1] is 1.
 *   load:  params: the op's parameters as listed; the others none
 *   apply: inputs as listed; outputs [out]; params as at load
 */
#define X2V_KERNEL_ATTENTION 0
#define X2V_KERNEL_MM 1
#define X2V_KERNEL_RMS_NORM 2
#define X2V_KERNEL_LAYER_NORM 3
#define X2V_KERNEL_ROPE 4
#define X2V_KERNEL_CONV 5
#define X2V_KERNEL_ELEMENTWISE 6

/* Weight formats of an mm kernel (x2v_kernel_desc.quant_format). */
#define X2V_QUANT_NONE 0
#define X2V_QUANT_INT8 1
#define X2V_QUANT_FP8_E4M3 2

/* x2v_kernel_desc.flags */
#define X2V_KERNEL_FLAG_BIAS (1u << 0) /* attention: adds the additive bias input */

/* x2v_kernel_desc.dtypes: one bit per activation dtype the kernel computes in. */
#define X2V_DTYPE_BIT(code) (1u << (code))

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
  void* stream; /* the device stream this call is ordered on; NULL: the default stream */
} x2v_kernel_args;

typedef struct x2v_kernel_desc {
  uint32_t struct_size;    /* sizeof(x2v_kernel_desc) */
  const char* description; /* one line describing the kernel; may be NULL */
  void* user;              /* passed to create */
  /* Traits: what the kernel accepts. x2v selects and checks with them and never calls apply with a dtype
   * outside `dtypes`; a kernel that then refuses what it declared is reported as a plugin bug. */
  uint32_t dtypes;      /* X2V_DTYPE_BIT(X2V_DTYPE_*) per activation dtype; 0: f32, bf16 and f16 */
  int32_t quant_format; /* X2V_KERNEL_MM only: X2V_QUANT_*; others 0 */
  uint32_t flags;       /* X2V_KERNEL_FLAG_* */
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
  /* Makes `alias` (e.g. a LightX2V config name) select `target` (a kernel or alias) of the same category
   * and platform. */
  int (*register_alias)(const struct x2v_host_api* host, const char* platform, int32_t category,
                        const char* alias, const char* target);
  /* Writes a line to x2v's log (X2V_LOG_LEVEL filters it); level is X2V_LOG_*. */
  void (*log)(const struct x2v_host_api* host, int32_t level, const char* message);
  /* Why the last failed register_* call failed. */
  const char* (*last_error)(const struct x2v_host_api* host);
  /* Makes kernel `name` the default of its weight format in `category` on `platform`, a device this plugin
   * registered (the cpu's defaults stay x2v's): the unquantized default is what an empty config name selects,
   * and LightX2V's names of a format (flash_attn3, int8-vllm, fp8-sgl, ...) select the default of that
   * format. One default per category and format. Without one, a format with a single kernel defaults to it,
   * and a category or format without any runs the cpu's kernel through host copies. */
  int (*register_default)(const struct x2v_host_api* host, const char* platform, int32_t category,
                          const char* name);
} x2v_host_api;

/* The two functions every plugin exports. When x2v_plugin_register fails, x2v keeps nothing of it and
 * calls no destroy: the plugin frees what it allocated (a device's `user`, say) before returning. */
typedef uint32_t (*x2v_plugin_abi_version_fn)(void);
typedef int (*x2v_plugin_register_fn)(const x2v_host_api* host);

#define X2V_PLUGIN_ABI_VERSION_SYMBOL "x2v_plugin_abi_version"
#define X2V_PLUGIN_REGISTER_SYMBOL "x2v_plugin_register"

#ifdef __cplusplus
}
#endif

#endif /* X2V_PLATFORM_ABI_H */
