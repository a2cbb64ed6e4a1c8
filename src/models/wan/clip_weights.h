#pragma once
// Wan's CLIP image encoder checkpoints: the visual tower's tensor table and its two namings, Wan's (the whole
// CLIP in models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth, "visual.*", or those names without the
// prefix) and diffusers' image_encoder/ (transformers' CLIPVisionModel: "vision_model.*", q/k/v apart).
// Tensors are read by Wan's names whatever the file uses.
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint.h"

namespace x2v {

struct ClipVisionConfig;

// Every tensor of the visual tower in Wan's CLIP file ("visual.*"), for `x2v make-tiny-model`.
std::vector<std::pair<std::string, Shape>> clip_vision_tensor_shapes(const ClipVisionConfig& config);

class ClipVisualWeights {
 public:
  // Detects the naming; Error when `checkpoint` holds neither. The checkpoint must outlive this object.
  explicit ClipVisualWeights(const io::Checkpoint& checkpoint);

  bool diffusers() const { return diffusers_; }
  // `name` is Wan's without "visual." ("transformer.3.attn.to_qkv.weight").
  bool contains(const std::string& name) const;
  // Shape as Wan stores it (diffusers' [dim] class embedding reads as [1, 1, dim], q/k/v as one to_qkv).
  Shape shape(const std::string& name) const;
  // The tensor in Wan's shape, converted to `dtype`; Error naming it when missing or not `expected`.
  Tensor load(const std::string& name, const Shape& expected, DType dtype) const;
  // Wan naming only (diffusers' files are float): the stored tensor's name and header.
  std::string file_name(const std::string& name) const { return prefix_ + name; }
  io::TensorInfo info(const std::string& name) const;

 private:
  // The file's names holding Wan's `name` (three for diffusers' to_qkv).
  std::vector<std::string> file_names(const std::string& name) const;

  const io::Checkpoint& checkpoint_;
  bool diffusers_ = false;
  std::string prefix_;
};

}  // namespace x2v
