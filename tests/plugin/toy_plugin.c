/*
 * A toy x2v platform plugin, written the way an out-of-tree vendor backend would be: plain C, built
 * against include/x2v/platform_abi.h only. It registers
 *   - platform "toy": host memory (malloc) behind the ABI's device callbacks, low priority;
 *   - attention kernel "toy_attn" on "cpu" (exact softmax attention, f32, contiguous tensors) and the
 *     alias "toy_flash" for it;
 *   - rms_norm kernel "toy_rms_norm" on "toy" and on "cpu";
 *   - elementwise kernels "scale" (out = x * params[0] + params[1]) and "fill" (out = params[0], no inputs)
 *     on "toy".
 * It also exports toy_plugin_live_allocations() so tests can see that device memory went through it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "x2v/platform_abi.h"

/* ---- Device --------------------------------------------------------------------------------------- */

typedef struct toy_device {
  char error[256];
} toy_device;

static long live_allocations = 0; /* over every registration of this library in the process */

X2V_PLUGIN_EXPORT long toy_plugin_live_allocations(void) {
  return live_allocations;
}

static int toy_is_available(void* user) {
  (void)user;
  return 1;
}

static void* toy_alloc(void* user, size_t bytes) {
  (void)user;
  void* pointer = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (pointer != NULL) ++live_allocations;
  return pointer;
}

static void toy_free(void* user, void* pointer, size_t bytes) {
  (void)user;
  (void)bytes;
  if (pointer == NULL) return;
  free(pointer);
  --live_allocations;
}

static int toy_copy(void* user, const void* source, void* target, size_t bytes, int32_t kind) {
  toy_device* device = (toy_device*)user;
  if (kind != X2V_COPY_HOST_TO_DEVICE && kind != X2V_COPY_DEVICE_TO_HOST &&
      kind != X2V_COPY_DEVICE_TO_DEVICE) {
    snprintf(device->error, sizeof(device->error), "unknown copy kind %d", (int)kind);
    return X2V_FAILED;
  }
  memcpy(target, source, bytes);
  return X2V_OK;
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

/* ---- Kernels: shared instance state ---------------------------------------------------------------- */

typedef struct toy_kernel {
  char error[256];
  x2v_tensor_view weight; /* rms_norm: the loaded weight (data NULL when absent) */
  float eps;
} toy_kernel;

static void* toy_kernel_create(void* user) {
  (void)user;
  return calloc(1, sizeof(toy_kernel));
}

static void toy_kernel_destroy(void* instance) {
  free(instance);
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

static int is_contiguous(const x2v_tensor_view* view) {
  int64_t expected = 1;
  for (int dim = view->ndim - 1; dim >= 0; --dim) {
    if (view->shape[dim] != 1 && view->strides[dim] != expected) return 0;
    expected *= view->shape[dim];
  }
  return 1;
}

static int64_t element_count(const x2v_tensor_view* view) {
  int64_t count = 1;
  for (int dim = 0; dim < view->ndim; ++dim) count *= view->shape[dim];
  return count;
}

/* Checks that every view is f32 and contiguous; names the first that is not. */
static int require_f32_contiguous(toy_kernel* kernel, const char* name, const x2v_tensor_view* views,
                                  int count) {
  for (int i = 0; i < count; ++i) {
    if (views[i].dtype != X2V_DTYPE_F32)
      return fail(kernel, "%s supports f32 only; tensor %d has dtype code %d", name, i, (int)views[i].dtype);
    if (!is_contiguous(&views[i]))
      return fail(kernel, "%s needs contiguous tensors; tensor %d is strided", name, i);
  }
  return X2V_OK;
}

/* ---- attention: out = softmax(q k^T * scale) v ---------------------------------------------------- */

static int toy_attention_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->input_count != 3 || args->output_count != 1 || args->param_count < 1)
    return fail(kernel, "toy_attn expects q, k, v, out and a scale");
  if (require_f32_contiguous(kernel, "toy_attn", args->inputs, 3) != X2V_OK ||
      require_f32_contiguous(kernel, "toy_attn", args->outputs, 1) != X2V_OK)
    return X2V_FAILED;
  const x2v_tensor_view* q = &args->inputs[0];
  const x2v_tensor_view* k = &args->inputs[1];
  const x2v_tensor_view* v = &args->inputs[2];
  const int rank = q->ndim;
  const int64_t batch = rank == 4 ? q->shape[0] : 1;
  const int64_t heads = q->shape[rank - 3];
  const int64_t q_len = q->shape[rank - 2];
  const int64_t kv_len = k->shape[rank - 2];
  const int64_t head_dim = q->shape[rank - 1];
  const float scale = args->params[0];
  float* scores = (float*)malloc(sizeof(float) * (size_t)kv_len);
  if (scores == NULL) return fail(kernel, "toy_attn: out of memory");
  const float* q_data = (const float*)q->data;
  const float* k_data = (const float*)k->data;
  const float* v_data = (const float*)v->data;
  float* out_data = (float*)args->outputs[0].data;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t keys = args->int_param_count > 0 ? args->int_params[b] : kv_len;
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t head = b * heads + h;
      const float* k_head = k_data + head * kv_len * head_dim;
      const float* v_head = v_data + head * kv_len * head_dim;
      for (int64_t i = 0; i < q_len; ++i) {
        const float* q_row = q_data + (head * q_len + i) * head_dim;
        float* out_row = out_data + (head * q_len + i) * head_dim;
        float max_score = -INFINITY;
        for (int64_t j = 0; j < keys; ++j) {
          float dot = 0.0f;
          for (int64_t c = 0; c < head_dim; ++c) dot += q_row[c] * k_head[j * head_dim + c];
          scores[j] = dot * scale;
          if (scores[j] > max_score) max_score = scores[j];
        }
        float total = 0.0f;
        for (int64_t j = 0; j < keys; ++j) {
          scores[j] = expf(scores[j] - max_score);
          total += scores[j];
        }
        for (int64_t c = 0; c < head_dim; ++c) out_row[c] = 0.0f;
        for (int64_t j = 0; j < keys; ++j) {
          const float weight = scores[j] / total;
          for (int64_t c = 0; c < head_dim; ++c) out_row[c] += weight * v_head[j * head_dim + c];
        }
      }
    }
  }
  free(scores);
  return X2V_OK;
}

/* ---- rms_norm: out = x * rsqrt(mean(x^2) + eps) * weight ------------------------------------------- */

static int toy_rms_norm_load(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->input_count != 1 || args->param_count != 1)
    return fail(kernel, "toy_rms_norm expects weight and eps");
  kernel->weight = args->inputs[0];
  kernel->eps = args->params[0];
  if (kernel->weight.data != NULL) return require_f32_contiguous(kernel, "toy_rms_norm", &kernel->weight, 1);
  return X2V_OK;
}

static int toy_rms_norm_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->input_count != 1 || args->output_count != 1)
    return fail(kernel, "toy_rms_norm expects x and out");
  if (require_f32_contiguous(kernel, "toy_rms_norm", args->inputs, 1) != X2V_OK ||
      require_f32_contiguous(kernel, "toy_rms_norm", args->outputs, 1) != X2V_OK)
    return X2V_FAILED;
  const x2v_tensor_view* x = &args->inputs[0];
  const int64_t width = x->shape[x->ndim - 1];
  const int64_t rows = element_count(x) / width;
  const float* weight = (const float*)kernel->weight.data;
  for (int64_t row = 0; row < rows; ++row) {
    const float* in = (const float*)x->data + row * width;
    float* out = (float*)args->outputs[0].data + row * width;
    double squares = 0.0;
    for (int64_t c = 0; c < width; ++c) squares += (double)in[c] * in[c];
    const float inverse = 1.0f / sqrtf((float)(squares / (double)width) + kernel->eps);
    for (int64_t c = 0; c < width; ++c) out[c] = in[c] * inverse * (weight != NULL ? weight[c] : 1.0f);
  }
  return X2V_OK;
}

/* ---- elementwise "scale": out = x * params[0] + params[1] ------------------------------------------ */

static int toy_scale_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->input_count != 1 || args->output_count != 1 || args->param_count != 2)
    return fail(kernel, "scale expects x, out and [multiplier, offset]");
  if (require_f32_contiguous(kernel, "scale", args->inputs, 1) != X2V_OK ||
      require_f32_contiguous(kernel, "scale", args->outputs, 1) != X2V_OK)
    return X2V_FAILED;
  const int64_t count = element_count(&args->inputs[0]);
  const float* in = (const float*)args->inputs[0].data;
  float* out = (float*)args->outputs[0].data;
  for (int64_t i = 0; i < count; ++i) out[i] = in[i] * args->params[0] + args->params[1];
  return X2V_OK;
}

/* ---- elementwise "fill": out = params[0] (no inputs) ------------------------------------------------ */

static int toy_fill_apply(void* instance, const x2v_kernel_args* args) {
  toy_kernel* kernel = (toy_kernel*)instance;
  if (args->input_count != 0 || args->output_count != 1 || args->param_count != 1)
    return fail(kernel, "fill expects no inputs, out and [value]");
  if (require_f32_contiguous(kernel, "fill", args->outputs, 1) != X2V_OK) return X2V_FAILED;
  const int64_t count = element_count(&args->outputs[0]);
  float* out = (float*)args->outputs[0].data;
  for (int64_t i = 0; i < count; ++i) out[i] = args->params[0];
  return X2V_OK;
}

/* ---- Registration ---------------------------------------------------------------------------------- */

static x2v_kernel_desc kernel_desc(const char* description, int (*load)(void*, const x2v_kernel_args*),
                                   int (*apply)(void*, const x2v_kernel_args*)) {
  x2v_kernel_desc desc;
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.description = description;
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

X2V_PLUGIN_EXPORT int x2v_plugin_register(const x2v_host_api* host) {
  toy_device* device = (toy_device*)calloc(1, sizeof(toy_device));
  if (device == NULL) return X2V_FAILED;

  x2v_device_desc desc;
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.name = "toy";
  desc.device_string = "toy:0";
  desc.priority = -10; /* below cpu: chosen only when PLATFORM=toy */
  desc.host_accessible = 1;
  desc.user = device;
  desc.is_available = toy_is_available;
  desc.alloc = toy_alloc;
  desc.free = toy_free;
  desc.copy = toy_copy;
  desc.synchronize = toy_synchronize;
  desc.last_error = toy_device_error;
  desc.destroy = toy_destroy;
  if (host->register_device(host, &desc) != X2V_OK) {
    free(device); /* x2v calls destroy only for devices it keeps */
    return X2V_FAILED;
  }

  const x2v_kernel_desc attention = kernel_desc("toy exact attention (f32)", NULL, toy_attention_apply);
  const x2v_kernel_desc rms_norm = kernel_desc("toy rms_norm (f32)", toy_rms_norm_load, toy_rms_norm_apply);
  const x2v_kernel_desc scale = kernel_desc("toy scale (f32)", NULL, toy_scale_apply);
  const x2v_kernel_desc fill = kernel_desc("toy fill (f32)", NULL, toy_fill_apply);
  if (host->register_kernel(host, "cpu", X2V_KERNEL_ATTENTION, "toy_attn", &attention) != X2V_OK ||
      host->register_alias(host, "cpu", X2V_KERNEL_ATTENTION, "toy_flash", "toy_attn") != X2V_OK ||
      host->register_kernel(host, "toy", X2V_KERNEL_RMS_NORM, "toy_rms_norm", &rms_norm) != X2V_OK ||
      host->register_kernel(host, "cpu", X2V_KERNEL_RMS_NORM, "toy_rms_norm", &rms_norm) != X2V_OK ||
      host->register_kernel(host, "toy", X2V_KERNEL_ELEMENTWISE, "scale", &scale) != X2V_OK ||
      host->register_kernel(host, "toy", X2V_KERNEL_ELEMENTWISE, "fill", &fill) != X2V_OK) {
    free(device); /* the registration fails as a whole, so the device above is dropped too */
    return X2V_FAILED;
  }
  host->log(host, X2V_LOG_DEBUG, "toy plugin registered platform 'toy' and its kernels");
  return X2V_OK;
}
