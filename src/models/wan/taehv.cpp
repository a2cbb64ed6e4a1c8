#include "models/wan/taehv.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/text.h"
#include "models/wan/vae.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {

// One entry of taehv's decoder Sequential (its index is the checkpoint's "decoder.<index>").
struct TaehvDecoder::Layer {
  enum class Kind { clamp, conv, relu, memblock, upsample, tgrow } kind;
  int index = 0;
  int64_t channels_in = 0, channels_out = 0;
  int stride = 1;                                  // tgrow: frames out per frame in
  std::vector<std::unique_ptr<ConvKernel>> convs;  // conv: 1; memblock: 3; tgrow: 1 (1x1)
};

// The decode's causal state: each MemBlock's previous input, and how many frames came out.
struct TaehvDecoder::State {
  std::vector<Tensor> past;
  int64_t emitted = 0;
};

namespace {

constexpr int64_t kLatentChannels = 16;        // taew2_1 (Wan2.1); taew2_2 has 48
constexpr int64_t kFramesToTrim = 3;           // 4x temporal upscale: the first 3 outputs precede frame 0
constexpr int64_t kWidths[] = {256, 128, 64};  // taehv's base decoder n_f

}  // namespace

std::vector<std::pair<std::string, Shape>> taehv_decoder_tensor_shapes() {
  std::vector<std::pair<std::string, Shape>> shapes = {
      {"decoder.1.weight", {kWidths[0], kLatentChannels, 3, 3}}, {"decoder.1.bias", {kWidths[0]}}};
  int index = 3;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t width = kWidths[stage], next = stage < 2 ? kWidths[stage + 1] : 64;
    for (int block = 0; block < 3; ++block, ++index) {
      const std::string name = concat("decoder.", index, ".conv.");
      shapes.push_back({name + "0.weight", {width, 2 * width, 3, 3}});
      shapes.push_back({name + "0.bias", {width}});
      shapes.push_back({name + "2.weight", {width, width, 3, 3}});
      shapes.push_back({name + "2.bias", {width}});
      shapes.push_back({name + "4.weight", {width, width, 3, 3}});
      shapes.push_back({name + "4.bias", {width}});
    }
    ++index;  // upsample
    shapes.push_back(
        {concat("decoder.", index++, ".conv.weight"), {width * (stage == 0 ? 1 : 2), width, 1, 1}});
    shapes.push_back({concat("decoder.", index++, ".weight"), {next, width, 3, 3}});
  }
  ++index;  // relu
  shapes.push_back({concat("decoder.", index, ".weight"), {3, 64, 3, 3}});
  shapes.push_back({concat("decoder.", index, ".bias"), {3}});
  return shapes;
}

TaehvDecoder::TaehvDecoder(const io::Checkpoint& checkpoint, Device& device, bool need_scaled, DType dtype)
    : device_(&device), need_scaled_(need_scaled), dtype_(dtype) {
  if (dtype != DType::f32 && dtype != DType::bf16)
    throw Error("taehv", concat("the decoder runs in f32 or bf16, not ", dtype_name(dtype)));
  const auto tensor = [&](const std::string& name, const Shape& expected) {
    if (!checkpoint.contains(name))
      throw Error("taehv", concat(checkpoint.path(), " has no tensor '", name,
                                  "'; it is not a TAEHV checkpoint (taew2_1.pth / .safetensors)"));
    Tensor value = checkpoint.load(name, dtype);
    if (value.shape() != expected)
      throw Error("taehv", concat("tensor '", name, "' of ", checkpoint.path(), " has shape ",
                                  shape_to_string(value.shape()), ", expected ", shape_to_string(expected)));
    return value;
  };
  // The family first: the latent width of the first conv, the output width of the last.
  if (checkpoint.contains("decoder.1.weight")) {
    const Shape first = checkpoint.info("decoder.1.weight").shape;
    if (first.size() == 4 && first[1] != kLatentChannels)
      throw Error("taehv", concat(checkpoint.path(), " decodes ", first[1], " latent channels",
                                  first[1] == 48 ? " (a Wan2.2 TAE, taew2_2)" : "", "; Wan2.1 latents have ",
                                  kLatentChannels, ": use taew2_1 (or lighttaew2_1)"));
  }
  if (checkpoint.contains("decoder.22.weight")) {
    const Shape last = checkpoint.info("decoder.22.weight").shape;
    if (!last.empty() && last[0] != 3)
      throw Error("taehv",
                  concat(checkpoint.path(), " writes ", last[0], " channels per pixel (a patch size above ",
                         "1, another model family's TAE); Wan2.1 needs taew2_1"));
  }
  ConvOptions three_by_three;
  three_by_three.spatial_dims = 2;
  three_by_three.pad_begin = {1, 1};
  three_by_three.pad_end = {1, 1};
  ConvOptions one_by_one;
  one_by_one.spatial_dims = 2;
  const auto conv = [&](const std::string& name, int64_t in, int64_t out, bool bias,
                        const ConvOptions& options, int64_t kernel) {
    std::unique_ptr<ConvKernel> kernel_object = device.kernels().conv.create("");
    const Tensor weight = tensor(name + ".weight", {out, in, kernel, kernel});
    const Tensor bias_value = bias ? tensor(name + ".bias", {out}) : Tensor();
    kernel_object->load(ops::to_device(weight, device),
                        bias_value.defined() ? ops::to_device(bias_value, device) : Tensor(), options);
    return kernel_object;
  };
  const auto add = [&](Layer::Kind kind, int index, int64_t in, int64_t out, int stride = 1) {
    Layer layer;
    layer.kind = kind;
    layer.index = index;
    layer.channels_in = in;
    layer.channels_out = out;
    layer.stride = stride;
    const std::string name = concat("decoder.", index);
    if (kind == Layer::Kind::conv) {
      const bool bias = index == 1 || index == 22;  // the first and last convs have biases
      layer.convs.push_back(conv(name, in, out, bias, three_by_three, 3));
    } else if (kind == Layer::Kind::memblock) {
      layer.convs.push_back(conv(name + ".conv.0", 2 * in, out, true, three_by_three, 3));
      layer.convs.push_back(conv(name + ".conv.2", out, out, true, three_by_three, 3));
      layer.convs.push_back(conv(name + ".conv.4", out, out, true, three_by_three, 3));
    } else if (kind == Layer::Kind::tgrow) {
      // Checkpoints trained with more frames per TGrow keep the last ones (taehv's patch_tgrow_layers).
      const std::string weight_name = name + ".conv.weight";
      if (!checkpoint.contains(weight_name))
        throw Error("taehv", concat(checkpoint.path(), " has no tensor '", weight_name, "'"));
      Tensor weight = checkpoint.load(weight_name, dtype);
      const int64_t rows = in * stride;
      if (weight.ndim() != 4 || weight.size(0) < rows || weight.size(1) != in)
        throw Error("taehv", concat("tensor '", weight_name, "' has shape ", shape_to_string(weight.shape()),
                                    ", expected [", rows, ", ", in, ", 1, 1]"));
      weight = ops::contiguous(weight.slice(0, weight.size(0) - rows, weight.size(0)));
      std::unique_ptr<ConvKernel> kernel_object = device.kernels().conv.create("");
      kernel_object->load(ops::to_device(weight, device), Tensor(), one_by_one);
      layer.convs.push_back(std::move(kernel_object));
    }
    layers_.push_back(std::move(layer));
  };
  using Kind = Layer::Kind;
  add(Kind::clamp, 0, kLatentChannels, kLatentChannels);
  add(Kind::conv, 1, kLatentChannels, kWidths[0]);
  add(Kind::relu, 2, kWidths[0], kWidths[0]);
  int index = 3;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t width = kWidths[stage];
    const int64_t next = stage < 2 ? kWidths[stage + 1] : 64;
    for (int block = 0; block < 3; ++block) add(Kind::memblock, index++, width, width);
    add(Kind::upsample, index++, width, width);
    add(Kind::tgrow, index++, width, width, stage == 0 ? 1 : 2);  // decoder_time_upscale (False, True, True)
    add(Kind::conv, index++, width, next);
  }
  add(Kind::relu, index++, 64, 64);
  add(Kind::conv, index, 64, 3);
}

TaehvDecoder::~TaehvDecoder() = default;

std::unique_ptr<TaehvDecoder> TaehvDecoder::open(const std::string& path, Device& device, bool need_scaled,
                                                 DType dtype) {
  const std::unique_ptr<io::Checkpoint> checkpoint = io::open_checkpoint(path);
  return std::make_unique<TaehvDecoder>(*checkpoint, device, need_scaled, dtype);
}

Tensor TaehvDecoder::convolve(const Layer& layer, int which, const Tensor& x) const {
  ConvKernel& conv = *layer.convs.at(static_cast<size_t>(which));
  Tensor out = empty(conv.output_shape(x.shape()), dtype_, *device_);
  conv.apply(x, out);
  return out;
}

Tensor TaehvDecoder::upsample(const Tensor& x) const {
  // Nearest 2x: every input pixel lands in a 2x2 square, four strided copies.
  const int64_t channels = x.size(0), height = x.size(1), width = x.size(2);
  Tensor out = empty({channels, 2 * height, 2 * width}, dtype_, *device_);
  const Tensor squares = out.reshape({channels, height, 2, width, 2});
  for (int64_t row = 0; row < 2; ++row)
    for (int64_t column = 0; column < 2; ++column) {
      Tensor target = squares.select(4, column).select(2, row);
      ops::copy(x, target);
    }
  return out;
}

void TaehvDecoder::run(Tensor x, size_t first_layer, State& state, const FrameSink& sink) const {
  constexpr float kInfinity = std::numeric_limits<float>::infinity();
  for (size_t i = first_layer; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    switch (layer.kind) {
      case Layer::Kind::clamp:  // applied on the host before the frame comes in
        break;
      case Layer::Kind::conv:
        x = convolve(layer, 0, x);
        break;
      case Layer::Kind::relu:
        ops::clamp(x, 0.0f, kInfinity, x);
        break;
      case Layer::Kind::memblock: {
        // relu(conv(relu(conv(relu(conv([x, past]))))) + x), past: this depth's previous input (zeros first).
        const int64_t channels = x.size(0);
        Tensor joined = empty({2 * channels, x.size(1), x.size(2)}, dtype_, *device_);
        Tensor first = joined.slice(0, 0, channels), second = joined.slice(0, channels, 2 * channels);
        ops::copy(x, first);
        if (state.past[i].defined())
          ops::copy(state.past[i], second);
        else
          ops::fill(second, 0.0f);
        Tensor hidden = convolve(layer, 0, joined);
        ops::clamp(hidden, 0.0f, kInfinity, hidden);
        hidden = convolve(layer, 1, hidden);
        ops::clamp(hidden, 0.0f, kInfinity, hidden);
        hidden = convolve(layer, 2, hidden);
        ops::add(hidden, x, hidden);
        ops::clamp(hidden, 0.0f, kInfinity, hidden);
        state.past[i] = x;
        x = hidden;
        break;
      }
      case Layer::Kind::upsample:
        x = upsample(x);
        break;
      case Layer::Kind::tgrow: {
        // One frame becomes `stride` frames: consecutive channel groups of the 1x1 conv, in order.
        const Tensor grown = convolve(layer, 0, x);
        const int64_t channels = layer.channels_out;
        for (int frame = 0; frame < layer.stride; ++frame)
          run(grown.slice(0, frame * channels, (frame + 1) * channels), i + 1, state, sink);
        return;
      }
    }
  }
  if (state.emitted++ < kFramesToTrim) return;
  // [0, 1] as taehv clamps, then the [-1, 1] of the VAE's frames, in f32.
  Tensor frame = empty(x.shape(), DType::f32, *device_);
  ops::copy(x, frame);
  ops::clamp(frame, 0.0f, 1.0f, frame);
  ops::scale(frame, 2.0f, -1.0f, frame);
  sink(ops::to_device(frame, host_device()).reshape({3, 1, x.size(1), x.size(2)}));
}

void TaehvDecoder::decode(const Tensor& latents, const FrameSink& sink) const {
  if (!latents.defined() || latents.ndim() != 4 || latents.size(0) != kLatentChannels)
    throw Error("taehv", concat("latents are ", latents.describe(), "; expected [", kLatentChannels,
                                ", frames, height, width]"));
  const Tensor host = latents.to_host(DType::f32);
  const int64_t frames = host.size(1), height = host.size(2), width = host.size(3);
  const std::vector<float>& mean = WanVae::latent_mean();
  const std::vector<float>& std = WanVae::latent_std();
  State state;
  state.past.resize(layers_.size());
  for (int64_t t = 0; t < frames; ++t) {
    // The latent frame [16, h, w], un-normalized for LightTAE, then taehv's Clamp: tanh(x / 3) * 3.
    Tensor frame = Tensor::host({kLatentChannels, height, width}, DType::f32);
    float* out = frame.data<float>();
    const float* in = host.data<float>();
    for (int64_t c = 0; c < kLatentChannels; ++c)
      for (int64_t p = 0; p < height * width; ++p) {
        float value = in[(c * frames + t) * height * width + p];
        if (need_scaled_) value = value * std[c] + mean[c];
        out[c * height * width + p] = std::tanh(value / 3.0f) * 3.0f;
      }
    run(ops::to_device(dtype_ == DType::f32 ? frame : frame.to_host(dtype_), *device_), 1, state, sink);
  }
}

}  // namespace x2v
