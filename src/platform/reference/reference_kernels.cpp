// Reference math for every op category. Clarity over speed: fp64 accumulation, logical indexing.
#include <cmath>

#include "platform/reference/host_values.h"
#include "platform/reference/reference.h"

namespace x2v::reference {
void attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, float scale_option,
               const AttentionCall& call) {
  check_attention_arguments(q, k, v, out, call);
  const bool batched = q.ndim() == 4;
  const int64_t batch = batched ? q.size(0) : 1, heads = q.size(-3), q_len = q.size(-2), kv_len = k.size(-2),
                d = q.size(-1);
  const double scale = scale_option != 0.0f ? scale_option : 1.0 / std::sqrt(static_cast<double>(d));
  const std::vector<double> qv = read_values(q), kv = read_values(k), vv = read_values(v);
  const std::vector<double> bias = call.bias.defined() ? read_values(call.bias) : std::vector<double>();
  std::vector<double> result(qv.size());
  std::vector<double> scores(kv_len);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t valid = call.key_lengths.empty() ? kv_len : call.key_lengths[b];
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t q_base = (b * heads + h) * q_len * d, k_base = (b * heads + h) * kv_len * d;
      for (int64_t i = 0; i < q_len; ++i) {
        const double* row_bias = bias.empty() ? nullptr : &bias[(h * q_len + i) * kv_len];
        double max_score = -INFINITY;
        for (int64_t j = 0; j < valid; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) dot += qv[q_base + i * d + c] * kv[k_base + j * d + c];
          scores[j] = dot * scale + (row_bias ? row_bias[j] : 0.0);
          max_score = std::max(max_score, scores[j]);
        }
        double total = 0;
        for (int64_t j = 0; j < valid; ++j) total += (scores[j] = std::exp(scores[j] - max_score));
        for (int64_t c = 0; c < d; ++c) {
          double sum = 0;
          for (int64_t j = 0; j < valid; ++j) sum += scores[j] * vv[k_base + j * d + c];
          result[q_base + i * d + c] = sum / total;
        }
      }
    }
  }
  (void)batched;
  write_values(result, out);
}

void mm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& y) {
  const int64_t in = weight.size(1), out_features = weight.size(0);
  if (x.size(-1) != in || y.size(-1) != out_features || x.numel() / in != y.numel() / out_features)
    throw Error("reference",
                concat("mm shapes x ", x.describe(), " w ", weight.describe(), " y ", y.describe()));
  matmul_values(read_values(x), read_values(weight), bias, in, out_features, y);
}

void rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& out) {
  check_norm_arguments("rms_norm", x, out, weight, Tensor());
  const int64_t width = x.size(-1), rows = x.numel() / width;
  const std::vector<double> xv = read_values(x),
                            wv = weight.defined() ? read_values(weight) : std::vector<double>();
  std::vector<double> result(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double squares = 0;
    for (int64_t c = 0; c < width; ++c) squares += xv[r * width + c] * xv[r * width + c];
    const double inverse = 1.0 / std::sqrt(squares / width + eps);
    for (int64_t c = 0; c < width; ++c)
      result[r * width + c] = xv[r * width + c] * inverse * (wv.empty() ? 1.0 : wv[c]);
  }
  write_values(result, out);
}

void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps, Tensor& out) {
  check_norm_arguments("layer_norm", x, out, weight, bias);
  const int64_t width = x.size(-1), rows = x.numel() / width;
  const std::vector<double> xv = read_values(x);
  const std::vector<double> wv = weight.defined() ? read_values(weight) : std::vector<double>();
  const std::vector<double> bv = bias.defined() ? read_values(bias) : std::vector<double>();
  std::vector<double> result(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, variance = 0;
    for (int64_t c = 0; c < width; ++c) mean += xv[r * width + c];
    mean /= width;
    for (int64_t c = 0; c < width; ++c) variance += (xv[r * width + c] - mean) * (xv[r * width + c] - mean);
    variance /= width;
    const double inverse = 1.0 / std::sqrt(variance + eps);
    for (int64_t c = 0; c < width; ++c)
      result[r * width + c] =
          (xv[r * width + c] - mean) * inverse * (wv.empty() ? 1.0 : wv[c]) + (bv.empty() ? 0.0 : bv[c]);
  }
  write_values(result, out);
}

void rope(const Tensor& x, const RopeTables& tables, Tensor& out) {
  check_rope_arguments(x, tables, out);
  const int64_t tokens = x.size(0), heads = x.size(1), d = x.size(2);
  const std::vector<double> xv = read_values(x), cosines = read_values(tables.cos),
                            sines = read_values(tables.sin);
  std::vector<double> result(xv.size());
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t pair = 0; pair < d / 2; ++pair) {
      const double c = cosines[t * (d / 2) + pair], s = sines[t * (d / 2) + pair];
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t base = (t * heads + h) * d + 2 * pair;
        result[base] = xv[base] * c - xv[base + 1] * s;
        result[base + 1] = xv[base] * s + xv[base + 1] * c;
      }
    }
  write_values(result, out);
}

void conv(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options,
          Tensor& out) {
  const int dims = options.spatial_dims;
  const bool batched = x.ndim() == dims + 2;
  const int64_t batch = batched ? x.size(0) : 1;
  const int64_t in_channels = weight.size(1), out_channels = weight.size(0);
  // Pad the spatial dims to 3 (leading 1s) so one loop nest serves 2-D and 3-D.
  int64_t in_size[3] = {1, 1, 1}, out_size[3] = {1, 1, 1}, kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dilation[3] = {1, 1, 1};
  for (int i = 0; i < dims; ++i) {
    const int slot = 3 - dims + i;
    in_size[slot] = x.size(x.ndim() - dims + i);
    out_size[slot] = out.size(out.ndim() - dims + i);
    kernel[slot] = weight.size(2 + i);
    stride[slot] = options.stride[i];
    pad[slot] = options.pad_begin[i];
    dilation[slot] = options.dilation[i];
  }
  const std::vector<double> xv = read_values(x), wv = read_values(weight),
                            bv = bias.defined() ? read_values(bias) : std::vector<double>();
  const int64_t in_volume = in_size[0] * in_size[1] * in_size[2];
  const int64_t out_volume = out_size[0] * out_size[1] * out_size[2];
  const int64_t kernel_volume = kernel[0] * kernel[1] * kernel[2];
  std::vector<double> result(batch * out_channels * out_volume);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t o = 0; o < out_channels; ++o)
      for (int64_t od = 0; od < out_size[0]; ++od)
        for (int64_t oh = 0; oh < out_size[1]; ++oh)
          for (int64_t ow = 0; ow < out_size[2]; ++ow) {
            double sum = bv.empty() ? 0.0 : bv[o];
            for (int64_t c = 0; c < in_channels; ++c)
              for (int64_t kd = 0; kd < kernel[0]; ++kd)
                for (int64_t kh = 0; kh < kernel[1]; ++kh)
                  for (int64_t kw = 0; kw < kernel[2]; ++kw) {
                    const int64_t id = od * stride[0] - pad[0] + kd * dilation[0];
                    const int64_t ih = oh * stride[1] - pad[1] + kh * dilation[1];
                    const int64_t iw = ow * stride[2] - pad[2] + kw * dilation[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= in_size[0] || ih >= in_size[1] ||
                        iw >= in_size[2])
                      continue;
                    sum += xv[((b * in_channels + c) * in_size[0] + id) * in_size[1] * in_size[2] +
                              ih * in_size[2] + iw] *
                           wv[(o * in_channels + c) * kernel_volume + (kd * kernel[1] + kh) * kernel[2] + kw];
                  }
            result[((b * out_channels + o) * out_size[0] + od) * out_size[1] * out_size[2] +
                   oh * out_size[2] + ow] = sum;
          }
  (void)in_volume;
  write_values(result, out);
}

}  // namespace x2v::reference
