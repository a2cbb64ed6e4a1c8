/*
 * A toy x2v platform plugin, written the way an out-of-tree vendor backend would be: plain C, built
 * against include/x2v/platform_abi.h only. It registers
 *   - platform "toy", a device with memory of its own: its addresses are not host addresses (the host
 *     faults on any read), so data moves only through the device's copies, as on a real chip. Streams and
 *     events are implemented (the toy runs everything at once, so they only check their arguments).
 *   - on "toy", native kernels: mm (f32/bf16/f16 weights), rms_norm, layer_norm, attention (additive bias,
 *     key lengths), rope, and the elementwise copy, add, mul, silu, gelu_tanh, scale and fill. Every other
 *     category and op (conv, quantized mm, the remaining elementwise ops) falls back to the host's kernels.
 *   - on "cpu": attention "toy_attn" (f32, contiguous only; alias "toy_flash") and "toy_rms_norm".
 * Kernels compute in f32 (sums in f64): each input is gathered into a contiguous f32 copy, each output
 * scattered back in its dtype and strides. It exports toy_plugin_live_allocations() so tests see memory go
 * through it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "x2v/platform_abi.h"

/* ---- Device memory: host allocations behind addresses the host cannot dereference ------------------- */

/* A device address is the allocation's host address plus 2^47: a non-canonical x86-64 address, so any host
 * access to device memory faults at once instead of silently working. Offsets stay linear. */
#define TOY_TAG ((uintptr_t)1 << 47)

static void* to_device_address(void* host) {
  return (void*)((uintptr_t)host + TOY_TAG);
}
static void* to_host_address(const void* device) {
  return (void*)((uintptr_t)device - TOY_TAG);
}

typedef struct toy_device {
  char error[256];
  size_t live_bytes;
} toy_device;

static long live_allocations = 0; /* over every registration of this library in the process */
static const uint64_t kToyMemory = (uint64_t)4 << 30; /* what the toy reports as its memory */

X2V_PLUGIN_EXPORT long toy_plugin_live_allocations(void) {
  return live_allocations;
}

static int device_fail(toy_device* device, const char* message) {
  snprintf(device->error, sizeof(device->error), "%s", message);
  return X2V_FAILED;
}

static void* toy_alloc(void* user, size_t bytes) {
  toy_device* device = (toy_device*)user;
  void* pointer = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (pointer == NULL) return NULL;
  ++live_allocations;
  device->live_bytes += bytes;
  return to_device_address(pointer);
}

static void toy_free(void* user, void* pointer, size_t bytes) {
  toy_device* device = (toy_device*)user;
  if (pointer == NULL) return;
  free(to_host_address(pointer));
  --live_allocations;
  device->live_bytes -= bytes;
}

static int toy_copy(void* user, const void* source, void* target, size_t bytes, int32_t kind) {
  toy_device* device = (toy_device*)user;
  switch (kind) {
    case X2V_COPY_HOST_TO_DEVICE:
      memcpy(to_host_address(target), source, bytes);
      return X2V_OK;
    case X2V_COPY_DEVICE_TO_HOST:
      memcpy(target, to_host_address(source), bytes);
      return X2V_OK;
    case X2V_COPY_DEVICE_TO_DEVICE:
      memmove(to_host_address(target), to_host_address(source), bytes);
      return X2V_OK;
    default:
      return device_fail(device, "unknown copy kind");
  }
}

static int toy_synchronize(void* user) {
  (void)user;
  return X2V_OK; /* every toy operation completes before it returns */
}

static const char* toy_device_error(void* user) {
  return ((toy_device*)user)->error;
}

static void toy_destroy(void* user) {
  free(user);
}

static int toy_memory_info(void* user, x2v_memory_info* info) {
  toy_device* device = (toy_device*)user;
  info->total_bytes = kToyMemory;
  info->free_bytes = device->live_bytes < kToyMemory ? kToyMemory - device->live_bytes : 0;
  info->largest_allocation = info->free_bytes;
  info->largest_buffer_range = 0;
  return X2V_OK;
}

/* Streams and events: a tag to check that x2v hands back what the toy created. */
typedef struct toy_handle {
  uint32_t magic;
} toy_handle;
#define TOY_STREAM_MAGIC 0x5354524du
#define TOY_EVENT_MAGIC 0x45564e54u

static void* toy_create_handle(uint32_t magic) {
  toy_handle* handle = (toy_handle*)malloc(sizeof(toy_handle));
  if (handle != NULL) handle->magic = magic;
  return handle;
}
static int toy_check_handle(toy_device* device, void* handle, uint32_t magic, int may_be_null) {
  if (handle == NULL) return may_be_null ? X2V_OK : device_fail(device, "NULL event");
  if (((toy_handle*)handle)->magic != magic) return device_fail(device, "not a toy stream or event");
  return X2V_OK;
}
static void* toy_create_stream(void* user) {
  (void)user;
  return toy_create_handle(TOY_STREAM_MAGIC);
}
static void toy_destroy_handle(void* user, void* handle) {
  (void)user;
  free(handle);
}
static int toy_copy_async(void* user, const void* source, void* target, size_t bytes, int32_t kind,
                          void* stream) {
  if (toy_check_handle((toy_device*)user, stream, TOY_STREAM_MAGIC, 1) != X2V_OK) return X2V_FAILED;
  return toy_copy(user, source, target, bytes, kind);
}
static int toy_stream_synchronize(void* user, void* stream) {
  return toy_check_handle((toy_device*)user, stream, TOY_STREAM_MAGIC, 1);
}
static void* toy_create_event(void* user) {
  (void)user;
  return toy_create_handle(TOY_EVENT_MAGIC);
}
static int toy_record_event(void* user, void* event, void* stream) {
  toy_device* device = (toy_device*)user;
  if (toy_check_handle(device, event, TOY_EVENT_MAGIC, 0) != X2V_OK) return X2V_FAILED;
  return toy_check_handle(device, stream, TOY_STREAM_MAGIC, 1);
}
static int toy_stream_wait_event(void* user, void* stream, void* event) {
  return toy_record_event(user, event, stream);
}
static int toy_event_synchronize(void* user, void* event) {
  return toy_check_handle((toy_device*)user, event, TOY_EVENT_MAGIC, 0);
}

/* ---- Kernel instances ------------------------------------------------------------------------------- */

typedef struct toy_kernel {
  char error[256];
  int on_device; /* tensors are toy memory (else host memory of the cpu platform) */
  float* weight; /* gathered f32 copies of the loaded tensors (NULL when absent) */
  float* bias;
  int64_t out_features, in_features;
  float eps;
} toy_kernel;

/* `user` is 1 for kernels registered on "toy", 0 for those on "cpu". */
static void* toy_kernel_create(void* user) {
  toy_kernel* kernel = (toy_kernel*)calloc(1, sizeof(toy_kernel));
  if (kernel != NULL) kernel->on_device = user != NULL;
  return kernel;
}

static void toy_kernel_destroy(void* instance) {
  toy_kernel* kernel = (toy_kernel*)instance;
  free(kernel->weight);
  free(kernel->bias);
  free(kernel);
}

static const char* toy_kernel_error(void* instance) {
  return ((toy_kernel*)instance)->error;
}

static int fail(toy_kernel* kernel, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(kernel->error, sizeof(kernel->error), format, arguments);
  va_end(arguments);
  return X2V_FAILED;
}

/* ---- Element access: f32 <-> the view's dtype, through its strides --------------------------------- */

static float half_to_float(uint16_t bits) {
  const uint32_t sign = (uint32_t)(bits >> 15) << 31;
  int32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t result;
  if (exponent == 0x1f) {
    result = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent == 0) {
    if (mantissa == 0) {
      result = sign;
    } else { /* subnormal: normalize */
      exponent = 1;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      mantissa &= 0x3ffu;
      result = sign | ((uint32_t)(exponent + 112) << 23) | (mantissa << 13);
    }
  } else {
    result = sign | ((uint32_t)(exponent + 112) << 23) | (mantissa << 13);
  }
  float value;
  memcpy(&value, &result, sizeof(value));
  return value;
}

static uint16_t float_to_half(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  if (magnitude >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past the largest half */
  if (magnitude < 0x38800000u) {                                   /* subnormal or zero */
    const float scaled = fabsf(value) * 16777216.0f;               /* 2^24: units of the smallest half */
    return (uint16_t)(sign | (uint16_t)nearbyintf(scaled));
  }
  /* Round to nearest even on the 13 dropped bits. */
  const uint32_t rebased = magnitude - 0x38000000u;
  const uint32_t rounded = rebased + 0xfffu + ((rebased >> 13) & 1u);
  return (uint16_t)(sign | (rounded >> 13));
}

static float bf16_to_float(uint16_t bits) {
  const uint32_t widened = (uint32_t)bits << 16;
  float value;
  memcpy(&value, &widened, sizeof(value));
  return value;
}

static uint16_t float_to_bf16(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u); /* quiet NaN */
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

static int64_t element_count(const x2v_tensor_view* view) {
  int64_t count = 1;
  for (int dim = 0; dim < view->ndim; ++dim) count *= view->shape[dim];
  return count;
}

static int is_float_dtype(int32_t dtype) {
  return dtype == X2V_DTYPE_F32 || dtype == X2V_DTYPE_BF16 || dtype == X2V_DTYPE_F16;
}

/* Storage offset (in elements) of the logical element `index` (row-major) of a view. */
static int64_t storage_offset(const x2v_tensor_view* view, int64_t index) {
  int64_t offset = 0;
  for (int dim = view->ndim - 1; dim >= 0; --dim) {
    offset += (index % view->shape[dim]) * view->strides[dim];
    index /= view->shape[dim];
  }
  return offset;
}

static const void* host_data(const toy_kernel* kernel, const x2v_tensor_view* view) {
  return kernel->on_device ? to_host_address(view->data) : view->data;
}

/* A contiguous f32 copy of a view in logical order (caller frees); NULL for an absent view. */
static float* gather(toy_kernel* kernel, const x2v_tensor_view* view) {
  if (view->data == NULL) return NULL;
  const int64_t count = element_count(view);
  float* values = (float*)malloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
  if (values == NULL) return NULL;
  const char* base = (const char*)host_data(kernel, view);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t offset = storage_offset(view, i);
    switch (view->dtype) {
      case X2V_DTYPE_F32:
        values[i] = ((const float*)base)[offset];
        break;
      case X2V_DTYPE_BF16:
        values[i] = bf16_to_float(((const uint16_t*)base)[offset]);
        break;
      default:
        values[i] = half_to_float(((const uint16_t*)base)[offset]);
        break;
    }
  }
  return values;
}

/* Writes logical-order f32 values into a view, converting to its dtype. */
static void scatter(toy_kernel* kernel, const float* values, const x2v_tensor_view* view) {
  char* base = (char*)host_data(kernel, view);
  const int64_t count = element_count(view);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t offset = storage_offset(view, i);
    switch (view->dtype) {
      case X2V_DTYPE_F32:
        ((float*)base)[offset] = values[i];
        break;
      case X2V_DTYPE_BF16:
        ((uint16_t*)base)[offset] = float_to_bf16(values[i]);
        break;
      default:
        ((uint16_t*)base)[offset] = float_to_half(values[i]);
        break;
    }
  }
}

static int require_views(toy_kernel* kernel, const char* name, const x2v_kernel_args* args, int inputs,
                         int outputs) {
  if (args->input_count < inputs || args->output_count != outputs)
    return fail(kernel, "%s expects %d inputs and %d outputs, got %d and %d", name, inputs, outputs,
                (int)args->input_count, (int)args->output_count);
  for (int i = 0; i < args->input_count; ++i)
    if (args->inputs[i].data != NULL && !is_float_dtype(args->inputs[i].dtype))
      return fail(kernel, "%s: input %d has dtype code %d; the toy computes f32, bf16 and f16", name, i,
                  (int)args->inputs[i].dtype);
  return X2V_OK;
}

/* ---- mm: y = x W^T + b ------------------------------------------------------------------------------ */

static int toy_mm_load(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (require_views(kernel, "toy_mm", args, 1, 0) != X2V_OK) return X2V_FAILED;
  const x2v_tensor_view* weight = &args->inputs[0];
  if (weight->ndim != 2) return fail(kernel, "toy_mm: the weight must be 2-D");
  kernel->out_features = weight->shape[0];
  kernel->in_features = weight->shape[1];
  free(kernel->weight);
  free(kernel->bias);
  kernel->weight = gather(kernel, weight);
  kernel->bias = args->input_count > 1 ? gather(kernel, &args->inputs[1]) : NULL;
  if (kernel->weight == NULL) return fail(kernel, "toy_mm: out of memory");
  return X2V_OK;
}

static int toy_mm_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (require_views(kernel, "toy_mm", args, 1, 1) != X2V_OK) return X2V_FAILED;
  const int64_t rows = element_count(&args->inputs[0]) / kernel->in_features;
  float* x = gather(kernel, &args->inputs[0]);
  float* y = (float*)malloc(sizeof(float) * (size_t)(rows * kernel->out_features + 1));
  if (x == NULL || y == NULL) {
    free(x);
    free(y);
    return fail(kernel, "toy_mm: out of memory");
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < kernel->out_features; ++o) {
      const float* w = kernel->weight + o * kernel->in_features;
      const float* row = x + r * kernel->in_features;
      double sum = kernel->bias != NULL ? kernel->bias[o] : 0.0;
      for (int64_t k = 0; k < kernel->in_features; ++k) sum += (double)row[k] * w[k];
      y[r * kernel->out_features + o] = (float)sum;
    }
  scatter(kernel, y, &args->outputs[0]);
  free(x);
  free(y);
  return X2V_OK;
}

/* ---- rms_norm and layer_norm over the last dim ----------------------------------------------------- */

static int toy_norm_load(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->param_count != 1 || args->input_count < 1)
    return fail(kernel, "a norm expects weight(s) and eps");
  free(kernel->weight);
  free(kernel->bias);
  kernel->weight = gather(kernel, &args->inputs[0]);
  kernel->bias = args->input_count > 1 ? gather(kernel, &args->inputs[1]) : NULL;
  kernel->eps = args->params[0];
  return X2V_OK;
}

static int toy_norm_apply(toy_kernel* kernel, const x2v_kernel_args* args, int layer_norm) {
  if (require_views(kernel, "toy norm", args, 1, 1) != X2V_OK) return X2V_FAILED;
  const x2v_tensor_view* x_view = &args->inputs[0];
  const int64_t width = x_view->shape[x_view->ndim - 1];
  const int64_t rows = element_count(x_view) / width;
  float* x = gather(kernel, x_view);
  if (x == NULL) return fail(kernel, "toy norm: out of memory");
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * width;
    double mean = 0.0, squares = 0.0;
    if (layer_norm) {
      for (int64_t c = 0; c < width; ++c) mean += row[c];
      mean /= (double)width;
    }
    for (int64_t c = 0; c < width; ++c) squares += ((double)row[c] - mean) * ((double)row[c] - mean);
    const float inverse = (float)(1.0 / sqrt(squares / (double)width + kernel->eps));
    for (int64_t c = 0; c < width; ++c) {
      float value = (float)(row[c] - mean) * inverse;
      if (kernel->weight != NULL) value *= kernel->weight[c];
      if (layer_norm && kernel->bias != NULL) value += kernel->bias[c];
      row[c] = value;
    }
  }
  scatter(kernel, x, &args->outputs[0]);
  free(x);
  return X2V_OK;
}

static int toy_rms_norm_apply(void* instance, const x2v_kernel_args* args) {
  return toy_norm_apply((toy_kernel*)instance, args, 0);
}
static int toy_layer_norm_apply(void* instance, const x2v_kernel_args* args) {
  return toy_norm_apply((toy_kernel*)instance, args, 1);
}

/* ---- attention: softmax(q k^T * scale + bias) v ----------------------------------------------------- */

static int toy_attention_compute(toy_kernel* kernel, const x2v_kernel_args* args) {
  const x2v_tensor_view* q_view = &args->inputs[0];
  const int rank = q_view->ndim;
  const int64_t batch = rank == 4 ? q_view->shape[0] : 1;
  const int64_t heads = q_view->shape[rank - 3];
  const int64_t q_len = q_view->shape[rank - 2];
  const int64_t kv_len = args->inputs[1].shape[rank - 2];
  const int64_t head_dim = q_view->shape[rank - 1];
  const float scale = args->params[0];
  float* q = gather(kernel, &args->inputs[0]);
  float* k = gather(kernel, &args->inputs[1]);
  float* v = gather(kernel, &args->inputs[2]);
  float* bias = args->input_count > 3 ? gather(kernel, &args->inputs[3]) : NULL;
  float* out = (float*)calloc((size_t)(batch * heads * q_len * head_dim + 1), sizeof(float));
  double* scores = (double*)malloc(sizeof(double) * (size_t)(kv_len + 1));
  double* accumulator = (double*)malloc(sizeof(double) * (size_t)(head_dim + 1));
  int status = X2V_OK;
  if (q == NULL || k == NULL || v == NULL || out == NULL || scores == NULL || accumulator == NULL) {
    status = fail(kernel, "toy attention: out of memory");
  } else {
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t keys = args->int_param_count > 0 ? args->int_params[b] : kv_len;
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t head = b * heads + h;
        for (int64_t i = 0; i < q_len; ++i) {
          const float* q_row = q + (head * q_len + i) * head_dim;
          float* out_row = out + (head * q_len + i) * head_dim;
          double max_score = -INFINITY;
          for (int64_t j = 0; j < keys; ++j) {
            double dot = 0.0;
            for (int64_t c = 0; c < head_dim; ++c)
              dot += (double)q_row[c] * k[(head * kv_len + j) * head_dim + c];
            scores[j] = dot * scale + (bias != NULL ? bias[(h * q_len + i) * kv_len + j] : 0.0);
            if (scores[j] > max_score) max_score = scores[j];
          }
          double total = 0.0;
          for (int64_t j = 0; j < keys; ++j) total += (scores[j] = exp(scores[j] - max_score));
          for (int64_t c = 0; c < head_dim; ++c) accumulator[c] = 0.0;
          for (int64_t j = 0; j < keys; ++j)
            for (int64_t c = 0; c < head_dim; ++c)
              accumulator[c] += scores[j] * v[(head * kv_len + j) * head_dim + c];
          for (int64_t c = 0; c < head_dim; ++c) out_row[c] = (float)(accumulator[c] / total);
        }
      }
    }
    scatter(kernel, out, &args->outputs[0]);
  }
  free(q);
  free(k);
  free(v);
  free(bias);
  free(out);
  free(scores);
  free(accumulator);
  return status;
}

static int toy_attention_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (require_views(kernel, "toy attention", args, 3, 1) != X2V_OK || args->param_count < 1)
    return fail(kernel, "toy attention expects q, k, v, (bias), out and a scale");
  return toy_attention_compute(kernel, args);
}

/* "toy_attn" on cpu: f32 and contiguous only, as a narrow vendor kernel would be. */
static int is_contiguous(const x2v_tensor_view* view) {
  int64_t expected = 1;
  for (int dim = view->ndim - 1; dim >= 0; --dim) {
    if (view->shape[dim] != 1 && view->strides[dim] != expected) return 0;
    expected *= view->shape[dim];
  }
  return 1;
}

static int toy_attn_cpu_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->input_count < 3 || args->output_count != 1 || args->param_count < 1)
    return fail(kernel, "toy_attn expects q, k, v, out and a scale");
  for (int i = 0; i < 4; ++i) {
    const x2v_tensor_view* view = i < 3 ? &args->inputs[i] : &args->outputs[0];
    if (view->dtype != X2V_DTYPE_F32)
      return fail(kernel, "toy_attn supports f32 only; tensor %d has dtype code %d", i, (int)view->dtype);
    if (!is_contiguous(view))
      return fail(kernel, "toy_attn needs contiguous tensors; tensor %d is strided", i);
  }
  return toy_attention_compute(kernel, args);
}

/* ---- rope: rotate interleaved pairs by the cos/sin tables ------------------------------------------ */

static int toy_rope_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (require_views(kernel, "toy_rope", args, 3, 1) != X2V_OK) return X2V_FAILED;
  const x2v_tensor_view* x_view = &args->inputs[0];
  const int64_t tokens = x_view->shape[0], heads = x_view->shape[1], pairs = x_view->shape[2] / 2;
  float* x = gather(kernel, x_view);
  float* cosines = gather(kernel, &args->inputs[1]);
  float* sines = gather(kernel, &args->inputs[2]);
  int status = X2V_OK;
  if (x == NULL || cosines == NULL || sines == NULL) {
    status = fail(kernel, "toy_rope: out of memory");
  } else {
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < pairs; ++j) {
          float* pair = x + ((t * heads + h) * pairs + j) * 2;
          const float c = cosines[t * pairs + j], s = sines[t * pairs + j];
          const float even = pair[0], odd = pair[1];
          pair[0] = even * c - odd * s;
          pair[1] = even * s + odd * c;
        }
    scatter(kernel, x, &args->outputs[0]);
  }
  free(x);
  free(cosines);
  free(sines);
  return status;
}

/* ---- elementwise ------------------------------------------------------------------------------------ */

/* out = op(inputs) element by element; the second input broadcasts over leading dims. */
typedef float (*toy_unary)(float x, const float* params);
typedef float (*toy_binary)(float a, float b);

static float op_copy(float x, const float* params) {
  (void)params;
  return x;
}
static float op_silu(float x, const float* params) {
  (void)params;
  return x / (1.0f + expf(-x));
}
static float op_gelu_tanh(float x, const float* params) {
  (void)params;
  return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}
static float op_scale(float x, const float* params) {
  return x * params[0] + params[1];
}
static float op_add(float a, float b) {
  return a + b;
}
static float op_mul(float a, float b) {
  return a * b;
}

static int toy_unary_apply(toy_kernel* kernel, const x2v_kernel_args* args, toy_unary op, int params) {
  if (require_views(kernel, "toy elementwise", args, 1, 1) != X2V_OK) return X2V_FAILED;
  if (args->param_count != params)
    return fail(kernel, "expected %d params, got %d", params, (int)args->param_count);
  const int64_t count = element_count(&args->outputs[0]);
  if (element_count(&args->inputs[0]) != count)
    return fail(kernel, "toy elementwise: x and out differ in size");
  float* x = gather(kernel, &args->inputs[0]);
  if (x == NULL) return fail(kernel, "toy elementwise: out of memory");
  for (int64_t i = 0; i < count; ++i) x[i] = op(x[i], args->params);
  scatter(kernel, x, &args->outputs[0]);
  free(x);
  return X2V_OK;
}

static int toy_binary_apply(toy_kernel* kernel, const x2v_kernel_args* args, toy_binary op) {
  if (require_views(kernel, "toy elementwise", args, 2, 1) != X2V_OK) return X2V_FAILED;
  const int64_t count = element_count(&args->outputs[0]);
  const int64_t operand_count = element_count(&args->inputs[1]);
  if (element_count(&args->inputs[0]) != count || operand_count == 0 || count % operand_count != 0)
    return fail(kernel, "toy elementwise: a must match out and b must broadcast over it");
  float* a = gather(kernel, &args->inputs[0]);
  float* b = gather(kernel, &args->inputs[1]);
  if (a == NULL || b == NULL || operand_count == 0) {
    free(a);
    free(b);
    return fail(kernel, "toy elementwise: out of memory");
  }
  for (int64_t i = 0; i < count; ++i) a[i] = op(a[i], b[i % operand_count]);
  scatter(kernel, a, &args->outputs[0]);
  free(a);
  free(b);
  return X2V_OK;
}

static int toy_copy_apply(void* instance, const x2v_kernel_args* args) {
  return toy_unary_apply((toy_kernel*)instance, args, op_copy, 0);
}
static int toy_silu_apply(void* instance, const x2v_kernel_args* args) {
  return toy_unary_apply((toy_kernel*)instance, args, op_silu, 0);
}
static int toy_gelu_tanh_apply(void* instance, const x2v_kernel_args* args) {
  return toy_unary_apply((toy_kernel*)instance, args, op_gelu_tanh, 0);
}
static int toy_scale_apply(void* instance, const x2v_kernel_args* args) {
  return toy_unary_apply((toy_kernel*)instance, args, op_scale, 2);
}
static int toy_add_apply(void* instance, const x2v_kernel_args* args) {
  return toy_binary_apply((toy_kernel*)instance, args, op_add);
}
static int toy_mul_apply(void* instance, const x2v_kernel_args* args) {
  return toy_binary_apply((toy_kernel*)instance, args, op_mul);
}

static int toy_fill_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->input_count != 0 || args->output_count != 1 || args->param_count != 1)
    return fail(kernel, "fill expects no inputs, out and [value]");
  const int64_t count = element_count(&args->outputs[0]);
  float* values = (float*)malloc(sizeof(float) * (size_t)(count + 1));
  if (values == NULL) return fail(kernel, "fill: out of memory");
  for (int64_t i = 0; i < count; ++i) values[i] = args->params[0];
  scatter(kernel, values, &args->outputs[0]);
  free(values);
  return X2V_OK;
}

/* ---- Registration ----------------------------------------------------------------------------------- */

static x2v_kernel_desc kernel_desc(const char* description, int on_device, uint32_t flags,
                                   int (*load)(void*, const x2v_kernel_args*),
                                   int (*apply)(void*, const x2v_kernel_args*)) {
  x2v_kernel_desc desc;
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.description = description;
  desc.user = on_device ? (void*)1 : NULL;
  desc.flags = flags;
  desc.create = toy_kernel_create;
  desc.destroy = toy_kernel_destroy;
  desc.load = load;
  desc.apply = apply;
  desc.last_error = toy_kernel_error;
  return desc;
}

X2V_PLUGIN_EXPORT uint32_t x2v_plugin_abi_version(void) {
  return X2V_PLATFORM_ABI_VERSION;
}

static int register_toy_kernels(const x2v_host_api* host) {
  const x2v_kernel_desc mm = kernel_desc("toy mm (f32 math)", 1, 0, toy_mm_load, toy_mm_apply);
  const x2v_kernel_desc rms_norm = kernel_desc("toy rms_norm", 1, 0, toy_norm_load, toy_rms_norm_apply);
  const x2v_kernel_desc layer_norm = kernel_desc("toy layer_norm", 1, 0, toy_norm_load, toy_layer_norm_apply);
  const x2v_kernel_desc attention =
      kernel_desc("toy exact attention with bias", 1, X2V_KERNEL_FLAG_BIAS, NULL, toy_attention_apply);
  const x2v_kernel_desc rope = kernel_desc("toy rope from tables", 1, 0, NULL, toy_rope_apply);
  struct {
    int32_t category;
    const char* name;
    const x2v_kernel_desc* desc;
  } kernels[] = {{X2V_KERNEL_MM, "toy_mm", &mm},
                 {X2V_KERNEL_RMS_NORM, "toy_rms_norm", &rms_norm},
                 {X2V_KERNEL_LAYER_NORM, "toy_layer_norm", &layer_norm},
                 {X2V_KERNEL_ATTENTION, "toy_attention", &attention},
                 {X2V_KERNEL_ROPE, "toy_rope", &rope}};
  for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); ++i) {
    if (host->register_kernel(host, "toy", kernels[i].category, kernels[i].name, kernels[i].desc) != X2V_OK ||
        host->register_default(host, "toy", kernels[i].category, kernels[i].name) != X2V_OK)
      return X2V_FAILED;
  }
  struct {
    const char* name;
    int (*apply)(void*, const x2v_kernel_args*);
  } elementwise[] = {{"copy", toy_copy_apply},
                     {"add", toy_add_apply},
                     {"mul", toy_mul_apply},
                     {"silu", toy_silu_apply},
                     {"gelu_tanh", toy_gelu_tanh_apply},
                     {"scale", toy_scale_apply},
                     {"fill", toy_fill_apply}};
  for (size_t i = 0; i < sizeof(elementwise) / sizeof(elementwise[0]); ++i) {
    const x2v_kernel_desc desc = kernel_desc("toy elementwise", 1, 0, NULL, elementwise[i].apply);
    if (host->register_kernel(host, "toy", X2V_KERNEL_ELEMENTWISE, elementwise[i].name, &desc) != X2V_OK)
      return X2V_FAILED;
  }
  /* Kernels for the host's own platform. */
  x2v_kernel_desc cpu_attention =
      kernel_desc("toy exact attention (f32)", 0, X2V_KERNEL_FLAG_BIAS, NULL, toy_attn_cpu_apply);
  cpu_attention.dtypes = X2V_DTYPE_BIT(X2V_DTYPE_F32); /* what it computes: x2v refuses it other dtypes */
  const x2v_kernel_desc cpu_rms_norm =
      kernel_desc("toy rms_norm (f32 math)", 0, 0, toy_norm_load, toy_rms_norm_apply);
  if (host->register_kernel(host, "cpu", X2V_KERNEL_ATTENTION, "toy_attn", &cpu_attention) != X2V_OK ||
      host->register_alias(host, "cpu", X2V_KERNEL_ATTENTION, "toy_flash", "toy_attn") != X2V_OK ||
      host->register_kernel(host, "cpu", X2V_KERNEL_RMS_NORM, "toy_rms_norm", &cpu_rms_norm) != X2V_OK)
    return X2V_FAILED;
  return X2V_OK;
}

X2V_PLUGIN_EXPORT int x2v_plugin_register(const x2v_host_api* host) {
  toy_device* device = (toy_device*)calloc(1, sizeof(toy_device));
  if (device == NULL) return X2V_FAILED;

  x2v_device_desc desc;
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.name = "toy";
  desc.device_string = "toy:0";
  desc.priority = -10; /* below cpu: chosen only when PLATFORM=toy */
  desc.host_accessible = 0;
  desc.user = device;
  desc.capabilities = 0; /* computes in f32 */
  desc.alloc = toy_alloc;
  desc.free = toy_free;
  desc.copy = toy_copy;
  desc.synchronize = toy_synchronize;
  desc.last_error = toy_device_error;
  desc.destroy = toy_destroy;
  desc.memory_info = toy_memory_info;
  desc.create_stream = toy_create_stream;
  desc.destroy_stream = toy_destroy_handle;
  desc.copy_async = toy_copy_async;
  desc.stream_synchronize = toy_stream_synchronize;
  desc.create_event = toy_create_event;
  desc.destroy_event = toy_destroy_handle;
  desc.record_event = toy_record_event;
  desc.stream_wait_event = toy_stream_wait_event;
  desc.event_synchronize = toy_event_synchronize;
  if (host->register_device(host, &desc) != X2V_OK) {
    free(device); /* x2v calls destroy only for devices it keeps */
    return X2V_FAILED;
  }
  if (register_toy_kernels(host) != X2V_OK) {
    free(device); /* the registration fails as a whole, so the device above is dropped too */
    return X2V_FAILED;
  }
  host->log(host, X2V_LOG_DEBUG, "toy plugin registered platform 'toy' and its kernels");
  return X2V_OK;
}
