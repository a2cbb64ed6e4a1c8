#include "parallel/parallel_plan.h"

#include <map>

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "platform/allocator.h"

namespace x2v {
namespace {

constexpr const char* kPlace = "parallel";

// LightX2V's keys inside "parallel" that x2v knows but does not implement, with what happens instead.
const std::map<std::string, std::string>& unimplemented_keys() {
  static const std::map<std::string, std::string> keys = {
      {"seq_p_fp8_comm", "the all-to-all sends the activations' own dtype"},
      {"seq_p_fp4_comm", "the all-to-all sends the activations' own dtype"},
      {"seq_p_quant_scheme", "the all-to-all sends the activations' own dtype"},
      {"seq_p_head_parallel", "heads are split by the Ulysses all-to-all"},
      {"seq_p_tensor_fusion", "q, k and v travel in separate all-to-alls"},
      {"seq_p_a2a_backend", "the all-to-all runs on the MPI plugin"},
      {"seq_p_prepost_backend", "the sequence is split and gathered on the MPI plugin"},
      {"tp_load_mode", "there is no tensor parallel"},
  };
  return keys;
}

int positive_size(const nlohmann::json& value, const std::string& key, const std::string& source) {
  if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 4096)
    throw Error(kPlace, concat("parallel.", key, " is ", value.dump(),
                               "; it must be a whole number of ranks (", source, ")"));
  return static_cast<int>(value.get<int64_t>());
}

bool asks_for_something(const nlohmann::json& value) {
  return !(value.is_null() || value == false || value == 0 || value == "" || value == "torch" ||
           (value.is_array() && value.empty()) || (value.is_object() && value.empty()));
}

}  // namespace

ParallelOptions ParallelOptions::from_config(const io::Config& config, std::vector<std::string>* warnings) {
  ParallelOptions options;
  const auto found = config.json().find("parallel");
  if (found == config.json().end() || found->is_null() || *found == false) {
    if (config.has("vae_parallel") && config.get_bool("vae_parallel", false))
      throw Error(kPlace,
                  "vae_parallel needs a \"parallel\" section: e.g. \"parallel\": {\"seq_p_size\": 2}");
    return options;
  }
  const nlohmann::json parallel = *found == true ? nlohmann::json::object() : *found;
  if (!parallel.is_object())
    throw Error(kPlace,
                concat("\"parallel\" is ", found->dump(), "; give an object such as {\"cfg_p_size\": 2, ",
                       "\"seq_p_size\": 2, \"seq_p_attn_type\": \"ulysses\"} (in ", config.source(), ")"));
  options.enabled = true;
  options.vae_parallel = true;
  const std::vector<std::string> known = {"cfg_p_size", "seq_p_size", "seq_p_attn_type", "tensor_p_size",
                                          "vae_parallel"};
  for (auto item = parallel.begin(); item != parallel.end(); ++item) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    if (key == "cfg_p_size") {
      options.cfg_p_size = positive_size(value, key, config.source());
      if (options.cfg_p_size != 1 && options.cfg_p_size != 2)
        throw Error(kPlace, concat("parallel.cfg_p_size is ", options.cfg_p_size,
                                   "; CFG parallel splits the two guidance branches, so it is 1 or 2"));
    } else if (key == "seq_p_size") {
      options.seq_p_size = positive_size(value, key, config.source());
    } else if (key == "seq_p_attn_type") {
      if (!value.is_string())
        throw Error(kPlace, concat("parallel.seq_p_attn_type is ", value.dump(), "; use \"ulysses\""));
      options.seq_p_attn_type = value.get<std::string>();
      if (options.seq_p_attn_type == "ring")
        throw Error(
            kPlace,
            "parallel.seq_p_attn_type \"ring\" (ring attention) is not built in x2v; use \"ulysses\"");
      if (options.seq_p_attn_type != "ulysses")
        throw Error(kPlace, concat("parallel.seq_p_attn_type \"", printable(options.seq_p_attn_type),
                                   "\" is unknown; use \"ulysses\""));
    } else if (key == "tensor_p_size") {
      if (positive_size(value, key, config.source()) != 1)
        throw Error(kPlace,
                    "parallel.tensor_p_size (tensor parallel) is not built in x2v; set it to 1 and use "
                    "seq_p_size and cfg_p_size");
    } else if (key == "vae_parallel") {
      if (!value.is_boolean())
        throw Error(kPlace, concat("parallel.vae_parallel is ", value.dump(), "; use true or false"));
      options.vae_parallel = value.get<bool>();
    } else if (const auto hint = unimplemented_keys().find(key); hint != unimplemented_keys().end()) {
      if (warnings != nullptr && asks_for_something(value))
        warnings->push_back(concat("parallel.", key, " is not implemented in x2v: ", hint->second));
    } else {
      std::vector<std::string> names = known;
      for (const auto& entry : unimplemented_keys()) names.push_back(entry.first);
      const std::string nearest = nearest_name(key, names);
      throw Error(kPlace, concat("unknown key parallel.", printable(key), " in ", config.source(),
                                 nearest.empty() ? "" : concat("; did you mean ", nearest, "?")));
    }
  }
  if (config.has("vae_parallel")) options.vae_parallel = config.get_bool("vae_parallel");
  return options;
}

void ParallelOptions::check(int world_size, int64_t heads, bool enable_cfg) const {
  if (!enabled) {
    if (world_size > 1)
      throw Error(kPlace,
                  concat("x2v was started on ", world_size, " ranks but the config has no \"parallel\" ",
                         "section; add e.g. \"parallel\": {\"seq_p_size\": ", world_size,
                         ", \"seq_p_attn_type\": \"ulysses\"}, or run one process"));
    return;
  }
  if (ranks() != world_size)
    throw Error(kPlace,
                concat("parallel asks for cfg_p_size ", cfg_p_size, " x seq_p_size ", seq_p_size, " = ",
                       ranks(), " ranks but x2v runs on ", world_size,
                       world_size == 1 ? " (start it with mpirun -np " : " (use mpirun -np ",
                       world_size == 1 ? concat(ranks(), ")") : concat(ranks(), " or change the sizes)")));
  if (seq_p_size > 1 && heads % seq_p_size != 0)
    throw Error(kPlace,
                concat("parallel.seq_p_size ", seq_p_size, " does not divide the model's ", heads,
                       " attention heads; Ulysses gives each rank whole heads, so use a divisor of ", heads));
  if (cfg_p_size == 2 && !enable_cfg)
    throw Error(kPlace,
                "parallel.cfg_p_size 2 runs the two guidance branches on two ranks, but enable_cfg is "
                "false (one branch); set cfg_p_size to 1");
}

std::string ParallelOptions::describe() const {
  if (!enabled) return "off (one process)";
  return concat("cfg_p_size ", cfg_p_size, ", seq_p_size ", seq_p_size, " (", seq_p_attn_type, "), VAE ",
                vae_parallel ? concat("in patches over ", ranks(), " ranks") : "whole on every rank");
}

ParallelGroups::ParallelGroups(Communicator& world, const ParallelOptions& options)
    : options_(options), world_(&world), vae_parallel_(options.vae_parallel && world.size() > 1) {
  if (!options.enabled || world.size() == 1) return;
  const int rank = world.rank();
  const int cfg_index = rank / options.seq_p_size, sequence_index = rank % options.seq_p_size;
  // Every rank takes part in both splits (they are collective), keeping only the groups that do work.
  std::unique_ptr<Communicator> sequence = world.split(cfg_index, sequence_index);
  std::unique_ptr<Communicator> cfg = world.split(sequence_index, cfg_index);
  if (options.seq_p_size > 1) sequence_ = std::move(sequence);
  if (options.cfg_p_size > 1) cfg_ = std::move(cfg);
}

ParallelTraffic ParallelGroups::traffic() const {
  ParallelTraffic traffic;
  if (cfg_) traffic.cfg = cfg_->bytes_sent();
  if (sequence_) traffic.sequence = sequence_->bytes_sent();
  if (world_) traffic.world = world_->bytes_sent();
  return traffic;
}

void ParallelGroups::log_sampling_traffic(const ParallelTraffic& before, int64_t steps) const {
  if (!cfg_ && !sequence_) return;
  const ParallelTraffic sent = traffic() - before;
  const size_t per_step = (sent.cfg + sent.sequence) / static_cast<size_t>(std::max<int64_t>(steps, 1));
  log_info(kPlace, "rank ", world_->rank(), " sent ", format_bytes(per_step), " a step over ", steps,
           " steps (CFG velocities ", format_bytes(sent.cfg / std::max<int64_t>(steps, 1)),
           ", Ulysses all-to-alls and gathers ", format_bytes(sent.sequence / std::max<int64_t>(steps, 1)),
           ")");
}

std::unique_ptr<ParallelGroups> make_parallel_groups(const io::Config& config, int64_t heads, bool enable_cfg,
                                                     std::vector<std::string>* warnings) {
  const ParallelOptions options = ParallelOptions::from_config(config, warnings);
  Communicator& world = world_communicator();
  options.check(world.size(), heads, enable_cfg);
  return std::make_unique<ParallelGroups>(world, options);
}

}  // namespace x2v
