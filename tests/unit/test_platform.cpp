// Device registry, PLATFORM selection, kernel registries, allocator and streams.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "platform/platform.h"

namespace x2v {
namespace {

// Sets an environment variable for one scope.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnvironment() {
    if (had_old_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  bool had_old_ = false;
  std::string old_;
};

TEST(Platform, CpuIsRegisteredAndSelectedByDefault) {
  initialize_platforms();
  ScopedEnvironment platform("PLATFORM", nullptr);
  EXPECT_NE(devices().find("cpu"), nullptr);
  EXPECT_EQ(devices().select().name(), "cpu");
}

TEST(Platform, PlatformEnvironmentSelects) {
  initialize_platforms();
  ScopedEnvironment platform("PLATFORM", "cpu");
  EXPECT_EQ(devices().select().device_string(), "cpu");
}

TEST(Platform, UnknownPlatformListsRegisteredOnes) {
  initialize_platforms();
  ScopedEnvironment platform("PLATFORM", "tpu9000");
  try {
    devices().select();
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("unknown PLATFORM 'tpu9000'"), std::string::npos) << message;
    EXPECT_NE(message.find("cpu"), std::string::npos) << message;
  }
}

TEST(Registry, UnknownKernelListsAvailableNames) {
  KernelRegistries& kernels = host_device().kernels();
  try {
    kernels.attention.create("magic_attn");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("unknown attention kernel 'magic_attn' on platform 'cpu'"), std::string::npos);
    EXPECT_NE(message.find("torch"), std::string::npos) << message;
  }
}

TEST(Registry, AliasesResolveToKernels) {
  KernelRegistries& kernels = host_device().kernels();
  EXPECT_EQ(kernels.rms_norm.resolve("sgl-kernel"), "cpu_rms_norm");
  EXPECT_EQ(kernels.rope.resolve("torch_complex_rope"), "cpu_rope");
  EXPECT_EQ(kernels.rms_norm.resolve("torch"), "torch");
  EXPECT_NE(kernels.layer_norm.create("Triton"), nullptr);
  for (const std::string& op : elementwise_op_names()) EXPECT_TRUE(kernels.elementwise.contains(op)) << op;
}

// LightX2V's names live in one table and select the platform's default kernel of their weight format.
TEST(Registry, LightX2VNamesSelectTheDefaultOfTheirFormat) {
  KernelRegistry<MatmulKernel> registry("mm", "test");
  auto factory = [] { return host_device().kernels().mm.create("torch"); };
  registry.add("plain_a", factory);
  registry.add("plain_b", factory);
  registry.add("w8a8", factory, "", KernelTraits::quantized(QuantFormat::int8));
  EXPECT_FALSE(registry.resolves("Default"));  // no default yet
  EXPECT_THROW(registry.resolve(""), Error);
  registry.set_default("plain_b");
  EXPECT_EQ(registry.resolve(""), "plain_b");
  EXPECT_EQ(registry.resolve("Default"), "plain_b");
  EXPECT_FALSE(registry.resolves("int8-vllm"));  // no int8 default
  registry.set_default("w8a8");
  EXPECT_EQ(registry.resolve("int8-vllm"), "w8a8");
  EXPECT_EQ(registry.resolve(""), "plain_b");  // one default per format
  EXPECT_EQ(registry.traits("int8-torchao").quant, QuantFormat::int8);
  EXPECT_FALSE(registry.resolves("fp8-sgl"));
  EXPECT_EQ(registry.lightx2v_names().at("int8-sgl"), "w8a8");
  EXPECT_THROW(registry.set_default("missing"), InternalError);
}

// What a kernel declares at registration is what it does: selection trusts the traits.
TEST(Registry, TraitsMatchTheKernels) {
  initialize_platforms();
  for (Device* device : devices().all()) {
    for (const std::string& name : device->kernels().mm.names())
      EXPECT_EQ(device->kernels().mm.traits(name).quant,
                device->kernels().mm.create(name)->quantized_format())
          << device->name() << " " << name;
    for (const std::string& name : device->kernels().attention.names())
      EXPECT_EQ(device->kernels().attention.traits(name).bias,
                device->kernels().attention.create(name)->supports_bias())
          << device->name() << " " << name;
  }
}

// An alias of an alias resolves to the kernel; a loop of aliases is an unknown name, not a hang.
TEST(Registry, AliasChainsResolveAndLoopsFail) {
  KernelRegistry<RmsNormKernel> registry("rms_norm", "test");
  registry.add("real", [] { return host_device().kernels().rms_norm.create("torch"); });
  registry.alias("first", "real");
  registry.alias("second", "first");
  EXPECT_EQ(registry.resolve("second"), "real");
  registry.alias("loop_a", "loop_b");
  registry.alias("loop_b", "loop_a");
  EXPECT_THROW(registry.resolve("loop_a"), Error);
}

TEST(Allocator, TracksCurrentAndPeakAndReuses) {
  CachingAllocator allocator(
      "test", [](size_t bytes) { return std::malloc(bytes); },
      [](void* pointer, size_t) { std::free(pointer); });
  void* a = allocator.allocate(1000);
  void* b = allocator.allocate(3 << 20);
  const size_t both = allocator.stats().current_bytes;
  EXPECT_EQ(both, CachingAllocator::rounded_size(1000) + CachingAllocator::rounded_size(3 << 20));
  allocator.deallocate(b, 3 << 20);
  EXPECT_EQ(allocator.stats().peak_bytes, both);
  EXPECT_EQ(allocator.stats().current_bytes, CachingAllocator::rounded_size(1000));
  void* c = allocator.allocate(3 << 20);
  EXPECT_EQ(c, b) << "a freed block of the same size is reused";
  allocator.deallocate(a, 1000);
  allocator.deallocate(c, 3 << 20);
  EXPECT_EQ(allocator.stats().current_bytes, 0u);
  allocator.release_cache();
  EXPECT_EQ(allocator.stats().cached_bytes, 0u);
}

// A pooled allocator over malloc that counts the raw bytes it holds.
struct CountingPool {
  size_t raw_bytes = 0, raw_calls = 0;
  CachingAllocator allocator{"test",
                             [this](size_t bytes) {
                               raw_bytes += bytes;
                               ++raw_calls;
                               return std::malloc(bytes);
                             },
                             [this](void* pointer, size_t bytes) {
                               raw_bytes -= bytes;
                               std::free(pointer);
                             },
                             BlockReuse::split_and_merge};
};

TEST(Allocator, SplitsAFreedBlockForASmallerRequest) {
  CountingPool pool;
  CachingAllocator& allocator = pool.allocator;
  void* big = allocator.allocate(64 << 20);
  allocator.deallocate(big, 64 << 20);
  const size_t held = pool.raw_bytes;
  // Three smaller requests of other sizes fit in the freed 64 MiB: no new memory, distinct addresses.
  void* a = allocator.allocate(20 << 20);
  void* b = allocator.allocate(30 << 20);
  void* c = allocator.allocate((10 << 20) + 100);
  EXPECT_EQ(pool.raw_bytes, held) << "exact-size reuse would have allocated 60 MiB more";
  EXPECT_EQ(a, big) << "the smallest fitting block is carved from its start";
  EXPECT_EQ(static_cast<char*>(b), static_cast<char*>(a) + (20 << 20));
  EXPECT_EQ(static_cast<char*>(c), static_cast<char*>(b) + (30 << 20));
  EXPECT_EQ(allocator.stats().current_bytes, size_t{20 << 20} + (30 << 20) + (10 << 20) + 4096);
  allocator.deallocate(b, 30 << 20);
  allocator.deallocate(a, 20 << 20);
  allocator.deallocate(c, (10 << 20) + 100);
  EXPECT_EQ(allocator.stats().current_bytes, 0u);
  // Merged back into one 64 MiB block: a 64 MiB request reuses it whole.
  void* again = allocator.allocate(64 << 20);
  EXPECT_EQ(again, big);
  EXPECT_EQ(pool.raw_bytes, held);
  allocator.deallocate(again, 64 << 20);
  allocator.release_cache();
  EXPECT_EQ(pool.raw_bytes, 0u) << "a wholly free segment goes back";
  EXPECT_EQ(allocator.stats().cached_bytes, 0u);
}

TEST(Allocator, SmallBlocksShareSegmentsAndKeepSegmentsApart) {
  CountingPool pool;
  CachingAllocator& allocator = pool.allocator;
  std::vector<void*> small;
  for (int i = 0; i < 100; ++i) small.push_back(allocator.allocate(1000 + i));
  EXPECT_EQ(pool.raw_calls, 1u) << "100 small blocks come from one 2 MiB segment";
  void* first = allocator.allocate(3 << 20);
  void* second = allocator.allocate(3 << 20);
  allocator.deallocate(first, 3 << 20);
  allocator.deallocate(second, 3 << 20);
  EXPECT_EQ(pool.raw_bytes, size_t{2 + 4 + 4} << 20) << "3 MiB requests take 4 MiB segments";
  // Blocks of two segments never merge: a 6 MiB request needs a new segment, and the two wholly free
  // 4 MiB segments that could not serve it go back first.
  void* six = allocator.allocate(6 << 20);
  EXPECT_EQ(pool.raw_bytes, size_t{2 + 6} << 20);
  EXPECT_EQ(allocator.stats().reserved_bytes, size_t{2 + 6} << 20);
  allocator.deallocate(six, 6 << 20);
  for (int i = 0; i < 100; ++i) allocator.deallocate(small[i], 1000 + i);
  allocator.release_cache();
  EXPECT_EQ(pool.raw_bytes, 0u);
  EXPECT_THROW(allocator.deallocate(reinterpret_cast<void*>(&pool), 1000), InternalError);
}

TEST(Allocator, LimitIsAClearError) {
  CachingAllocator allocator(
      "cpu", [](size_t bytes) { return std::malloc(bytes); },
      [](void* pointer, size_t) { std::free(pointer); });
  allocator.set_limit(8 << 20);
  void* first = allocator.allocate(6 << 20);
  try {
    allocator.allocate(4 << 20);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("[allocator] cpu: allocating 4.00 MiB with 6.00 MiB in use"), std::string::npos)
        << message;
    EXPECT_NE(message.find("limit of 8.00 MiB"), std::string::npos) << message;
  }
  allocator.deallocate(first, 6 << 20);
}

TEST(Allocator, DeviceTensorsReturnMemory) {
  Device& cpu = host_device();
  const size_t before = cpu.allocator().stats().current_bytes;
  {
    Tensor t = empty({256, 256}, DType::f32, cpu);
    EXPECT_EQ(t.device(), &cpu);
    EXPECT_GE(cpu.allocator().stats().current_bytes, before + 256 * 256 * 4);
  }
  EXPECT_EQ(cpu.allocator().stats().current_bytes, before);
}

TEST(Allocator, ParsesSizes) {
  size_t bytes = 0;
  EXPECT_TRUE(parse_bytes("2G", &bytes));
  EXPECT_EQ(bytes, size_t{2} << 30);
  EXPECT_TRUE(parse_bytes("512MiB", &bytes));
  EXPECT_EQ(bytes, size_t{512} << 20);
  EXPECT_FALSE(parse_bytes("lots", &bytes));
}

TEST(Streams, WorkerStreamRunsInOrderAndEventsSynchronize) {
  Device& cpu = host_device();
  auto copy_stream = cpu.create_stream();
  auto event = cpu.create_event();
  std::vector<int> order;
  std::atomic<bool> release{false};
  copy_stream->enqueue([&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    order.push_back(1);
  });
  copy_stream->enqueue([&] { order.push_back(2); });
  event->record(*copy_stream);
  EXPECT_FALSE(event->query());
  release = true;
  cpu.compute_stream().wait(*event);  // the inline compute stream blocks until the copy stream gets there
  EXPECT_TRUE(event->query());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(Streams, CopyAsyncAndErrorsPropagate) {
  Device& cpu = host_device();
  auto stream = cpu.create_stream();
  std::vector<float> source = {1, 2, 3}, target(3);
  cpu.copy_async(source.data(), target.data(), 12, CopyKind::host_to_device, *stream);
  stream->synchronize();
  EXPECT_EQ(target, source);
  stream->enqueue([] { throw Error("test", "boom"); });
  EXPECT_THROW(stream->synchronize(), Error);
}

}  // namespace
}  // namespace x2v
