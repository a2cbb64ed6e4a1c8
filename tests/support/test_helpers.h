#pragma once
// Small checks every test binary uses: the message of an x2v::Error, an expected error, equal bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v::testing {

// The message of the x2v::Error `action` throws, or "(no error)".
inline std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// `action` must throw an x2v::Error whose message contains `text`.
inline void expect_error_mentioning(const std::function<void()>& action, const std::string& text) {
  const std::string message = error_message(action);
  EXPECT_NE(message.find(text), std::string::npos)
      << "expected an error mentioning '" << text << "', got: " << message;
}

// Same dtype and the same bytes (host copies of both are compared; either may live on any device).
inline bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor x = ops::to_device(a, host_device()), y = ops::to_device(b, host_device());
  return x.dtype() == y.dtype() && x.nbytes() == y.nbytes() &&
         std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

}  // namespace x2v::testing
