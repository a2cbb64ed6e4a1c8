#include <gtest/gtest.h>

#include "core/tensor.h"

namespace x2v {
namespace {

Tensor iota(const Shape& shape) {
  std::vector<float> values(shape_numel(shape));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  return Tensor::host_from(values, shape);
}

TEST(Tensor, ContiguousBasics) {
  Tensor t = iota({2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.describe(), "f32[2, 3, 4]");
  EXPECT_EQ(t.size(-1), 4);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = iota({2, 3, 4});
  Tensor transposed = t.transpose(0, 2);
  EXPECT_EQ(transposed.shape(), (Shape{4, 3, 2}));
  EXPECT_FALSE(transposed.is_contiguous());
  EXPECT_TRUE(transposed.shares_storage_with(t));
  const auto values = transposed.to_floats();
  // transposed[i][j][k] = t[k][j][i] = k*12 + j*4 + i
  EXPECT_EQ(values[0 * 6 + 1 * 2 + 1], 1 * 12 + 1 * 4 + 0);
  EXPECT_EQ(values[3 * 6 + 2 * 2 + 1], 1 * 12 + 2 * 4 + 3);
  Tensor sliced = t.slice(1, 1, 3);
  EXPECT_EQ(sliced.shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(sliced.to_floats()[0], 4.0f);
  Tensor selected = t.select(0, 1);
  EXPECT_EQ(selected.to_floats()[0], 12.0f);
  EXPECT_EQ(t.reshape({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(t.unsqueeze(0).squeeze(0).shape(), (Shape{2, 3, 4}));
}

TEST(Tensor, BadViewsAreErrors) {
  Tensor t = iota({2, 3});
  EXPECT_THROW(t.reshape({4, 2}), Error);
  EXPECT_THROW(t.slice(1, 2, 5), Error);
  EXPECT_THROW(t.select(0, 2), Error);
  EXPECT_THROW(t.size(3), Error);
  EXPECT_THROW(t.transpose(0, 1).reshape({6}), InternalError);
  EXPECT_THROW(t.data<int8_t>(), InternalError);
}

TEST(Tensor, ToHostConvertsDtype) {
  Tensor t = Tensor::host_from({1.0f, 2.5f, -3.0f}, {3}, DType::bf16);
  EXPECT_EQ(t.dtype(), DType::bf16);
  EXPECT_EQ(t.to_floats(), (std::vector<float>{1.0f, 2.5f, -3.0f}));
  Tensor i = t.to_host(DType::i32);
  EXPECT_EQ(i.data<int32_t>()[2], -3);
}

TEST(Tensor, BorrowKeepsOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4});
  std::weak_ptr<std::vector<float>> watch = owner;
  Tensor view = Tensor::borrow(owner->data(), {2, 2}, DType::f32, owner);
  owner.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(view.to_floats()[3], 4.0f);
  view = Tensor();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace x2v
