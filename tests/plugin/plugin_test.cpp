// The plugin boundary: toy plugins written in C against include/x2v/platform_abi.h are loaded, their
// device and kernels registered, selected by name and checked against loops written here. Most tests load
// into a fresh DeviceRegistry (initialize_platforms() runs once per process); PluginEnvironment.* runs as
// its own ctest with X2V_PLUGIN_PATH and PLATFORM set.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>

#include "platform/cpu/cpu_device.h"
#include "platform/ops.h"
#include "platform/platform.h"
#include "platform/plugin_loader.h"

namespace x2v {
namespace {

// Sets an environment variable for one scope and restores the previous value.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    if (const char* previous = std::getenv(name)) previous_ = previous;
    if (value != nullptr)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnvironment() {
    if (previous_)
      setenv(name_.c_str(), previous_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

// A registry with the built-in cpu platform, as initialize_platforms() makes, and the toy plugin.
std::unique_ptr<DeviceRegistry> registry_with_toy() {
  auto registry = std::make_unique<DeviceRegistry>();
  registry->add(create_cpu_device());
  load_plugin(X2V_TOY_PLUGIN, *registry);
  return registry;
}

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& value : values) value = normal(generator);
  return values;
}

// Exact attention in double over contiguous [batch * heads, len, dim] data.
std::vector<float> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v, int64_t batch, int64_t heads, int64_t q_len,
                                   int64_t kv_len, int64_t dim, double scale,
                                   const std::vector<int64_t>& key_lengths) {
  std::vector<float> out(q.size());
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t keys = key_lengths.empty() ? kv_len : key_lengths[b];
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t head = b * heads + h;
      for (int64_t i = 0; i < q_len; ++i) {
        std::vector<double> scores(keys);
        double max_score = -INFINITY;
        for (int64_t j = 0; j < keys; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < dim; ++c)
            dot += double(q[(head * q_len + i) * dim + c]) * k[(head * kv_len + j) * dim + c];
          scores[j] = dot * scale;
          max_score = std::max(max_score, scores[j]);
        }
        double total = 0;
        for (double& score : scores) total += (score = std::exp(score - max_score));
        for (int64_t c = 0; c < dim; ++c) {
          double sum = 0;
          for (int64_t j = 0; j < keys; ++j) sum += scores[j] * v[(head * kv_len + j) * dim + c];
          out[(head * q_len + i) * dim + c] = static_cast<float>(sum / total);
        }
      }
    }
  }
  return out;
}

void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected, float tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], tolerance) << "at element " << i;
}

template <class Call>
std::string error_message(Call&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no x2v::Error thrown)";
}

long toy_live_allocations() {
  void* library = dlopen(X2V_TOY_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
  if (library == nullptr) return -1;
  auto count = reinterpret_cast<long (*)()>(dlsym(library, "toy_plugin_live_allocations"));
  const long result = count ? count() : -1;
  dlclose(library);  // drops only the reference RTLD_NOLOAD added
  return result;
}

TEST(PluginLoad, RegistersToyDeviceKernelsAndAlias) {
  auto registry = registry_with_toy();
  EXPECT_EQ(registry->names(), (std::vector<std::string>{"cpu", "toy"}));
  Device* toy = registry->find("toy");
  ASSERT_NE(toy, nullptr);
  EXPECT_EQ(toy->device_string(), "toy:0");
  EXPECT_TRUE(toy->is_available());
  EXPECT_FALSE(toy->host_accessible()) << "the toy's memory is its own";
  EXPECT_LT(toy->priority(), registry->find("cpu")->priority());
  EXPECT_EQ(toy->memory().total, size_t{4} << 30);
  EXPECT_FALSE(toy->capabilities().bf16);

  KernelRegistries& cpu_kernels = registry->find("cpu")->kernels();
  EXPECT_TRUE(cpu_kernels.attention.contains("toy_attn"));
  EXPECT_EQ(cpu_kernels.attention.resolve("toy_flash"), "toy_attn");
  EXPECT_EQ(cpu_kernels.attention.description("toy_attn"), "toy exact attention (f32)");
  EXPECT_TRUE(cpu_kernels.rms_norm.contains("toy_rms_norm"));
  EXPECT_TRUE(toy->kernels().rms_norm.contains("toy_rms_norm"));
  EXPECT_TRUE(toy->kernels().elementwise.contains("scale"));
  EXPECT_TRUE(toy->kernels().attention.traits("toy_attn").host_fallback) << "a cpu kernel, through copies";
  // Defaults the plugin registered; a LightX2V name selects them.
  EXPECT_EQ(toy->kernels().attention.resolve("flash_attn3"), "toy_attention");
  EXPECT_TRUE(toy->kernels().attention.traits("toy_attention").bias);
  EXPECT_EQ(toy->kernels().mm.resolve(""), "toy_mm");
  // What the toy lacks runs the cpu's kernels through copies.
  EXPECT_EQ(toy->kernels().conv.resolve(""), "onednn_conv");
  EXPECT_TRUE(toy->kernels().conv.traits("").host_fallback);
  EXPECT_TRUE(toy->kernels().mm.traits("int8-vllm").host_fallback);
  EXPECT_FALSE(toy->kernels().elementwise.traits("add").host_fallback);
  EXPECT_TRUE(toy->kernels().elementwise.traits("modulate").host_fallback);

  ScopedEnvironment no_platform("PLATFORM", nullptr);
  EXPECT_EQ(registry->select().name(), "cpu") << "a low-priority plugin must not win by default";
}

TEST(PluginKernels, AttentionChosenByConfigMatchesReference) {
  auto registry = registry_with_toy();
  KernelRegistries& kernels = registry->find("cpu")->kernels();
  const auto config = nlohmann::json::parse(R"({"self_attn_1_type": "toy_attn"})");
  std::unique_ptr<AttentionKernel> attention =
      kernels.attention.create(config["self_attn_1_type"].get<std::string>());
  attention->load(AttentionOptions{});

  const int64_t heads = 3, q_len = 17, kv_len = 23, dim = 16;
  const auto q_values = random_values(heads * q_len * dim, 1);
  const auto k_values = random_values(heads * kv_len * dim, 2);
  const auto v_values = random_values(heads * kv_len * dim, 3);
  Tensor q = Tensor::host_from(q_values, {heads, q_len, dim});
  Tensor k = Tensor::host_from(k_values, {heads, kv_len, dim});
  Tensor v = Tensor::host_from(v_values, {heads, kv_len, dim});
  Tensor out = Tensor::host({heads, q_len, dim}, DType::f32);
  attention->apply(q, k, v, out);

  const auto expected = naive_attention(q_values, k_values, v_values, 1, heads, q_len, kv_len, dim,
                                        1.0 / std::sqrt(double(dim)), {});
  expect_near_all(out.to_floats(), expected, 2e-5f);

  // The same inputs through the portable reference kernel a config selects with "torch".
  std::unique_ptr<AttentionKernel> reference = kernels.attention.create("torch");
  reference->load(AttentionOptions{});
  Tensor reference_out = Tensor::host({heads, q_len, dim}, DType::f32);
  reference->apply(q, k, v, reference_out);
  expect_near_all(out.to_floats(), reference_out.to_floats(), 2e-5f);
}

TEST(PluginKernels, AttentionPassesScaleAndKeyLengths) {
  auto registry = registry_with_toy();
  std::unique_ptr<AttentionKernel> attention = registry->find("cpu")->kernels().attention.create("toy_flash");
  attention->load(AttentionOptions{0.3f});
  AttentionCall call;
  call.key_lengths = {5, 9};

  const int64_t batch = 2, heads = 2, q_len = 4, kv_len = 9, dim = 8;
  const auto q_values = random_values(batch * heads * q_len * dim, 4);
  const auto k_values = random_values(batch * heads * kv_len * dim, 5);
  const auto v_values = random_values(batch * heads * kv_len * dim, 6);
  Tensor out = Tensor::host({batch, heads, q_len, dim}, DType::f32);
  attention->apply(Tensor::host_from(q_values, {batch, heads, q_len, dim}),
                   Tensor::host_from(k_values, {batch, heads, kv_len, dim}),
                   Tensor::host_from(v_values, {batch, heads, kv_len, dim}), out, call);
  const auto expected =
      naive_attention(q_values, k_values, v_values, batch, heads, q_len, kv_len, dim, 0.3, call.key_lengths);
  expect_near_all(out.to_floats(), expected, 2e-5f);
}

TEST(PluginKernels, KernelFailureCarriesThePluginMessage) {
  auto registry = registry_with_toy();
  std::unique_ptr<AttentionKernel> attention = registry->find("cpu")->kernels().attention.create("toy_attn");
  Tensor q = Tensor::host({2, 4, 8}, DType::bf16);
  Tensor out = Tensor::host({2, 4, 8}, DType::bf16);
  const std::string message = error_message([&] { attention->apply(q, q, q, out); });
  EXPECT_NE(message.find("declares dtypes f32; it was given bf16[2, 4, 8]"), std::string::npos) << message;
  EXPECT_NE(message.find("attention kernel 'toy_attn'"), std::string::npos) << message;

  // A head-major view of token-major data passes x2v's checks but not the toy's contiguity rule.
  Tensor tokens = Tensor::host({4, 2, 8}, DType::f32);
  Tensor strided = tokens.permute({1, 0, 2});
  Tensor strided_out = Tensor::host({2, 4, 8}, DType::f32);
  const std::string strided_message =
      error_message([&] { attention->apply(strided, strided, strided, strided_out); });
  EXPECT_NE(strided_message.find("needs contiguous tensors"), std::string::npos) << strided_message;
}

TEST(PluginKernels, RmsNormOnToyDeviceMatchesLoop) {
  auto registry = registry_with_toy();
  Device& toy = *registry->find("toy");
  const int64_t rows = 5, width = 32;
  const auto x_values = random_values(rows * width, 7);
  const auto weight_values = random_values(width, 8);

  // Inputs reach toy memory through the plugin's copy, as they would on a real device.
  Tensor x_host = Tensor::host_from(x_values, {rows, width});
  Tensor x = empty({rows, width}, DType::f32, toy);
  toy.copy(x_host.raw_data(), x.raw_data(), x_host.nbytes(), CopyKind::host_to_device);
  Tensor weight = empty({width}, DType::f32, toy);
  toy.copy(Tensor::host_from(weight_values, {width}).raw_data(), weight.raw_data(), width * sizeof(float),
           CopyKind::host_to_device);
  EXPECT_EQ(x.device(), &toy);

  std::unique_ptr<RmsNormKernel> norm = toy.kernels().rms_norm.create("toy_rms_norm");
  const float eps = 1e-5f;
  norm->load(weight, eps);
  Tensor out = empty({rows, width}, DType::f32, toy);
  norm->apply(x, out);
  Tensor out_host = Tensor::host({rows, width}, DType::f32);
  toy.copy(out.raw_data(), out_host.raw_data(), out.nbytes(), CopyKind::device_to_host);

  std::vector<float> expected(x_values.size());
  for (int64_t row = 0; row < rows; ++row) {
    double squares = 0;
    for (int64_t c = 0; c < width; ++c)
      squares += double(x_values[row * width + c]) * x_values[row * width + c];
    const double inverse = 1.0 / std::sqrt(squares / width + eps);
    for (int64_t c = 0; c < width; ++c)
      expected[row * width + c] = static_cast<float>(x_values[row * width + c] * inverse * weight_values[c]);
  }
  expect_near_all(out_host.to_floats(), expected, 1e-5f);
}

TEST(PluginKernels, ElementwiseReceivesItsParams) {
  auto registry = registry_with_toy();
  Device& toy = *registry->find("toy");
  ElementwiseKernel& scale = toy.kernels().elementwise.shared("scale");
  scale.load({2.5f, -1.0f});
  Tensor x = ops::to_device(Tensor::host_from({1.0f, -2.0f, 0.5f, 4.0f}, {2, 2}), toy);
  Tensor out = empty({2, 2}, DType::f32, toy);
  scale.apply({x}, out);
  expect_near_all(ops::to_device(out, host_device()).to_floats(), {1.5f, -6.0f, 0.25f, 9.0f}, 0.0f);
}

// fill is the elementwise op without inputs; the adapter must pass the call through.
TEST(PluginKernels, FillTakesNoInputs) {
  auto registry = registry_with_toy();
  Device& toy = *registry->find("toy");
  ElementwiseKernel& fill = toy.kernels().elementwise.shared("fill");
  fill.load({1.25f});
  Tensor out = empty({3, 2}, DType::f32, toy);
  fill.apply({}, out);
  expect_near_all(ops::to_device(out, host_device()).to_floats(), std::vector<float>(6, 1.25f), 0.0f);
}

TEST(PluginDevice, PlatformEnvSelectsToyAndMemoryComesFromThePlugin) {
  auto registry = registry_with_toy();
  ScopedEnvironment platform("PLATFORM", "toy");
  Device& device = registry->select();
  ASSERT_EQ(device.name(), "toy");

  const long before = toy_live_allocations();
  ASSERT_GE(before, 0) << "toy_plugin_live_allocations not found";
  {
    Tensor tensor = empty({64, 64}, DType::f32, device);
    EXPECT_EQ(tensor.device(), &device);
    EXPECT_FALSE(tensor.is_host_accessible());
    EXPECT_GE(device.allocator().stats().current_bytes, tensor.nbytes());
    EXPECT_EQ(toy_live_allocations(), before + 1);
  }
  EXPECT_EQ(device.allocator().stats().current_bytes, 0u);
  device.allocator().release_cache();
  EXPECT_EQ(toy_live_allocations(), before);

  // Streams and events are the plugin's (it checks every handle it gets back); a copy ordered on a side
  // stream and waited for through an event arrives.
  auto stream = device.create_stream();
  auto event = device.create_event();
  const Tensor source = Tensor::host_from({1.0f, 2.0f, 3.0f}, {3});
  Tensor target = empty({3}, DType::f32, device);
  device.copy_async(source.raw_data(), target.raw_data(), source.nbytes(), CopyKind::host_to_device, *stream);
  event->record(*stream);
  device.compute_stream().wait(*event);
  event->synchronize();
  EXPECT_TRUE(event->query());
  stream->synchronize();
  EXPECT_EQ(ops::to_device(target, host_device()).to_floats(), (std::vector<float>{1.0f, 2.0f, 3.0f}));
}

TEST(PluginDevice, UnknownPlatformListsTheRegisteredOnes) {
  auto registry = registry_with_toy();
  ScopedEnvironment platform("PLATFORM", "quantum");
  const std::string message = error_message([&] { registry->select(); });
  EXPECT_NE(message.find("unknown PLATFORM 'quantum'"), std::string::npos) << message;
  EXPECT_NE(message.find("cpu, toy"), std::string::npos) << message;
}

TEST(PluginDevice, LightX2VPlatformWithoutBackendSaysSoAndCaseIsIgnored) {
  auto registry = registry_with_toy();
  {
    ScopedEnvironment platform("PLATFORM", "ascend");
    const std::string message = error_message([&] { registry->select(); });
    EXPECT_NE(message.find("this build of x2v has no ascend backend (registered: cpu, toy)"),
              std::string::npos)
        << message;
  }
  ScopedEnvironment platform("PLATFORM", "TOY");
  EXPECT_EQ(registry->select().name(), "toy");
}

TEST(PluginErrors, WrongAbiVersionIsRefused) {
  DeviceRegistry registry;
  registry.add(create_cpu_device());
  const std::string message = error_message([&] { load_plugin(X2V_WRONG_ABI_PLUGIN, registry); });
  EXPECT_EQ(message,
            std::string("[plugin] ") + X2V_WRONG_ABI_PLUGIN +
                " was built for platform ABI 7; this x2v speaks ABI 2: rebuild the plugin against this "
                "x2v's include/x2v/platform_abi.h");
  EXPECT_EQ(registry.names(), std::vector<std::string>{"cpu"});
}

TEST(PluginErrors, AbiOnePluginIsToldToRebuild) {
  DeviceRegistry registry;
  registry.add(create_cpu_device());
  const std::string message = error_message([&] { load_plugin(X2V_ABI_ONE_PLUGIN, registry); });
  EXPECT_NE(message.find("was built for platform ABI 1; this x2v speaks ABI 2: rebuild the plugin"),
            std::string::npos)
      << message;
}

TEST(PluginErrors, TraitsThatMakeNoSenseFailTheRegistration) {
  DeviceRegistry registry;
  registry.add(create_cpu_device());
  const std::string message = error_message([&] { load_plugin(X2V_BAD_TRAITS_PLUGIN, registry); });
  EXPECT_NE(message.find("quant_format is set, but only mm kernels take quantized weights"),
            std::string::npos)
      << message;
  EXPECT_FALSE(registry.find("cpu")->kernels().rms_norm.contains("quantized_norm"));
}

TEST(PluginErrors, KernelRefusingWhatItDeclaredIsNamedAndUndeclaredDtypesNeverReachIt) {
  DeviceRegistry registry;
  registry.add(create_cpu_device());
  load_plugin(X2V_LYING_TRAITS_PLUGIN, registry);
  KernelRegistries& kernels = registry.find("cpu")->kernels();
  const Tensor x = Tensor::host({2, 8}, DType::bf16);
  Tensor out = Tensor::host({2, 8}, DType::bf16);
  auto liar = kernels.rms_norm.create("liar_rms_norm");
  liar->load(Tensor(), 1e-6f);
  std::string message = error_message([&] { liar->apply(x, out); });
  EXPECT_NE(message.find("this kernel fails every call"), std::string::npos) << message;
  EXPECT_NE(message.find("declared traits (dtypes f32, bf16) promise this call works"), std::string::npos)
      << message;
  auto narrow = kernels.rms_norm.create("f32_rms_norm");
  narrow->load(Tensor(), 1e-6f);
  message = error_message([&] { narrow->apply(x, out); });
  EXPECT_NE(message.find("declares dtypes f32; it was given bf16[2, 8]"), std::string::npos) << message;
}

TEST(PluginKernels, MissingCategoriesRunOnTheHostThroughCopies) {
  auto registry = registry_with_toy();
  Device& toy = *registry->find("toy");
  Device& cpu = *registry->find("cpu");
  // A 2-D convolution: the toy has none, so the cpu's default runs on host copies of the toy's tensors.
  const Tensor weight = Tensor::host_from(random_values(4 * 3 * 9, 11), {4, 3, 3, 3});
  const Tensor bias = Tensor::host_from(random_values(4, 12), {4});
  const Tensor x = Tensor::host_from(random_values(3 * 6 * 5, 13), {3, 6, 5});
  const ConvOptions options{2, {}, {1, 1}, {1, 1}, {}};
  auto on_toy = toy.kernels().conv.create("");
  on_toy->load(ops::to_device(weight, toy), ops::to_device(bias, toy), options);
  Tensor toy_out = empty({4, 6, 5}, DType::f32, toy);
  on_toy->apply(ops::to_device(x, toy), toy_out);
  auto on_cpu = cpu.kernels().conv.create("");
  on_cpu->load(weight, bias, options);
  Tensor cpu_out = Tensor::host({4, 6, 5}, DType::f32);
  on_cpu->apply(x, cpu_out);
  expect_near_all(ops::to_device(toy_out, host_device()).to_floats(), cpu_out.to_floats(), 0.0f);

  // An elementwise op the toy lacks, in place on a part of a buffer: the rest of the buffer stays.
  Tensor values = ops::to_device(Tensor::host_from({-3.0f, -1.0f, 0.5f, 2.0f, 4.0f, 9.0f}, {3, 2}), toy);
  Tensor rows = values.slice(0, 1, 3);
  ops::clamp(rows, 0.0f, 3.0f, rows);
  expect_near_all(ops::to_device(values, host_device()).to_floats(), {-3.0f, -1.0f, 0.5f, 2.0f, 3.0f, 3.0f},
                  0.0f);
}

TEST(PluginErrors, MissingFileIsAClearError) {
  DeviceRegistry registry;
  const std::string message = error_message([&] { load_plugin("/nonexistent/libx2v_ascend.so", registry); });
  EXPECT_EQ(message.rfind("[plugin] plugin file /nonexistent/libx2v_ascend.so does not exist", 0), 0u)
      << message;
}

TEST(PluginErrors, MissingRegisterSymbolIsAClearError) {
  DeviceRegistry registry;
  const std::string message = error_message([&] { load_plugin(X2V_NO_REGISTER_PLUGIN, registry); });
  EXPECT_NE(message.find("does not export x2v_plugin_register()"), std::string::npos) << message;
}

TEST(PluginErrors, NotASharedLibraryIsAClearError) {
  DeviceRegistry registry;
  const std::string message = error_message([&] { load_plugin(__FILE__, registry); });
  EXPECT_NE(message.find("cannot load plugin"), std::string::npos) << message;
}

TEST(PluginErrors, FailedRegistrationLeavesNothingBehind) {
  DeviceRegistry registry;
  registry.add(create_cpu_device());
  const std::string message = error_message([&] { load_plugin(X2V_REGISTER_FAILS_PLUGIN, registry); });
  EXPECT_NE(message.find("x2v_plugin_register() returned -1"), std::string::npos) << message;
  EXPECT_NE(message.find("platform 'nowhere' is neither cpu nor a device this plugin registered"),
            std::string::npos)
      << message;
  EXPECT_EQ(registry.names(), std::vector<std::string>{"cpu"});
}

TEST(PluginErrors, LoadingTwiceIntoOneRegistryIsRefusedWhole) {
  auto registry = registry_with_toy();
  const std::string message = error_message([&] { load_plugin(X2V_TOY_PLUGIN, *registry); });
  EXPECT_NE(message.find("platform 'toy' is already registered"), std::string::npos) << message;
  EXPECT_EQ(registry->names(), (std::vector<std::string>{"cpu", "toy"}));
  EXPECT_TRUE(registry->find("cpu")->kernels().attention.contains("toy_attn"));
}

TEST(PluginPath, LoadsDirectoriesAndFilesOnce) {
  DeviceRegistry registry;
  registry.add(create_cpu_device());
  // The toy plugin named by its directory and by its file (and an empty entry) loads once.
  const std::string path = std::string(X2V_TOY_PLUGIN_DIR) + "::" + X2V_TOY_PLUGIN;
  ScopedEnvironment plugin_path("X2V_PLUGIN_PATH", path.c_str());
  load_plugins_from_environment(registry);
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"cpu", "toy"}));
}

TEST(PluginPath, MissingEntryIsAClearError) {
  DeviceRegistry registry;
  ScopedEnvironment plugin_path("X2V_PLUGIN_PATH", "/nonexistent/plugins");
  const std::string message = error_message([&] { load_plugins_from_environment(registry); });
  EXPECT_NE(message.find("X2V_PLUGIN_PATH entry '/nonexistent/plugins' does not exist"), std::string::npos)
      << message;
}

// Runs only as the ctest "plugin_environment_path" (X2V_PLUGIN_PATH=<toy dir>, PLATFORM=toy).
TEST(PluginEnvironment, InitializePlatformsLoadsPluginPathAndSelectsToy) {
  if (std::getenv("X2V_PLUGIN_PATH") == nullptr) GTEST_SKIP() << "set X2V_PLUGIN_PATH (see tests.cmake)";
  initialize_platforms();
  ASSERT_NE(devices().find("toy"), nullptr);
  Device& device = selected_device();
  EXPECT_EQ(device.name(), "toy");
  Tensor tensor = empty({8, 8}, DType::f32, device);
  EXPECT_EQ(tensor.device(), &device);
  EXPECT_TRUE(host_device().kernels().attention.contains("toy_attn"));
}

}  // namespace
}  // namespace x2v
