// `x2v make-tiny-model DIR`: a complete random-weight Wan2.1 T2V (or, with --task i2v, I2V) model in the
// published layout, small enough that `x2v infer` runs the whole path on it in seconds.
#include "commands.h"
#include "core/error.h"
#include "pipeline/wan_tiny_model.h"

namespace x2v::cli {

void add_make_tiny_model_command(CLI::App& app) {
  auto directory = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(0);
  auto t5_dim = std::make_shared<int64_t>(TinyWanModelOptions{}.t5_dim);
  auto dit_size = std::make_shared<std::string>("tiny");
  auto t5_size = std::make_shared<std::string>("tiny");
  auto vae_size = std::make_shared<std::string>("tiny");
  auto with_tae = std::make_shared<bool>(false);
  auto task = std::make_shared<std::string>("t2v");
  auto model_cls = std::make_shared<std::string>("wan2.1");
  CLI::App* command = app.add_subcommand(
      "make-tiny-model",
      "Write a small random-weight Wan2.1 T2V or I2V model directory (for trying x2v out)");
  command->add_option("directory", *directory, "folder to create (must not exist)")->required();
  command->add_option("--seed", *seed, "weight seed")->capture_default_str();
  // The DiT's text_dim follows it; 32 makes the DiT the shape of the tests' DiT fixtures.
  command->add_option("--t5_dim", *t5_dim, "umT5 width (a multiple of 4)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4}, int64_t{4096}));
  // A DiT of the real 1.3B's shape (random weights, 5.7 GB of f32) times the DiT stage as a real model
  // would run it, without downloading one; the umT5 and VAE stay tiny.
  command->add_option("--dit_size", *dit_size, "tiny, or 1.3B: the DiT at Wan2.1-T2V-1.3B's shape")
      ->capture_default_str()
      ->check(CLI::IsMember({"tiny", "1.3B"}));
  // umT5-XXL (11 GB of bf16) and the full-width VAE time and size those stages as a real model's, e.g. to
  // measure a whole 14B pipeline's memory with dit_original_ckpt naming a 14B-width DiT.
  command
      ->add_option("--t5_size", *t5_size,
                   "tiny, or xxl: umT5 at umT5-XXL's shape (the DiT's text_dim follows)")
      ->capture_default_str()
      ->check(CLI::IsMember({"tiny", "xxl"}));
  command
      ->add_option("--vae_size", *vae_size, "tiny, light (LightVAE's quarter width) or full: the VAE's width")
      ->capture_default_str()
      ->check(CLI::IsMember({"tiny", "light", "full"}));
  command->add_option("--task", *task, "t2v, or i2v: an image-to-video DiT and a small CLIP image encoder")
      ->capture_default_str()
      ->check(CLI::IsMember({"t2v", "i2v"}));
  command
      ->add_option(
          "--model_cls", *model_cls,
          "wan2.1; wan2.2_moe: two experts in high_noise_model/ and low_noise_model/ (A14B's layout); "
          "wan2.2: TI2V-5B's layout (the Wan2.2 VAE, 48 latent channels)")
      ->capture_default_str()
      ->check(CLI::IsMember({"wan2.1", "wan2.2_moe", "wan2.2"}));
  command->add_flag("--with_tae", *with_tae,
                    "also write taew2_1.safetensors (a random TAEHV decoder) for use_tae");
  command->callback([directory, seed, t5_dim, dit_size, t5_size, vae_size, with_tae, task, model_cls] {
    TinyWanModelOptions options;
    options.seed = *seed;
    options.i2v = *task == "i2v";
    options.experts = *model_cls == "wan2.2_moe";
    options.ti2v = *model_cls == "wan2.2";
    if (options.ti2v) options.i2v = false;  // TI2V-5B is one model for both tasks
    if (*t5_dim % options.t5_heads != 0)
      throw Error("make-tiny-model", concat("--t5_dim ", *t5_dim, " is not a multiple of the ",
                                            options.t5_heads, " umT5 heads; give a multiple of 4"));
    options.t5_dim = *t5_dim;
    if (*dit_size == "1.3B") {
      options.dit_dim = 1536;
      options.dit_heads = 12;
      options.dit_layers = 30;
      options.dit_ffn = 8960;
    }
    if (*t5_size == "xxl") {
      options.t5_dim = 4096;
      options.t5_heads = 64;
      options.t5_layers = 24;
      options.t5_ffn = 10240;
      options.t5_vocab = 256384;
    }
    if (*vae_size == "full") options.vae_dim = 96;
    if (*vae_size == "light") options.vae_dim = 24;
    options.with_tae = *with_tae;
    write_tiny_wan_model(*directory, options);
  });
}

}  // namespace x2v::cli
