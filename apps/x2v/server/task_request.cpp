#include "server/task_request.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "core/text.h"
#include "io/atomic_file.h"
#include "io/image.h"

namespace x2v::server {
namespace fs = std::filesystem;
namespace {

enum class Kind { text, integer, number, boolean, shape, any };

struct Field {
  Kind kind;
  // Set to something other than its "off" value, a field x2v does not implement is refused by name.
  const char* unimplemented = nullptr;
};

// VideoTaskRequest's fields (LightX2V's schema.py).
const std::map<std::string, Field>& fields() {
  static const std::map<std::string, Field> table = {
      {"task_id", {Kind::text}},
      {"prompt", {Kind::text}},
      {"negative_prompt", {Kind::text}},
      {"image_path", {Kind::text}},
      {"save_result_path", {Kind::text}},
      {"infer_steps", {Kind::integer}},
      {"seed", {Kind::integer}},
      {"target_shape", {Kind::shape}},
      {"target_video_length", {Kind::integer}},
      {"lora_name", {Kind::text}},
      {"lora_strength", {Kind::number}},
      {"use_prompt_enhancer", {Kind::boolean, "the prompt enhancer is not implemented in x2v"}},
      {"last_frame_path", {Kind::text, "flf2v (last_frame_path) is not implemented in x2v"}},
      {"image_mask_path", {Kind::text, "image masks are not implemented in x2v"}},
      {"presigned_url", {Kind::text, "x2v does not upload results; download them from /result"}},
      {"reuse", {Kind::boolean, "reuse is not implemented in x2v"}},
      {"num_fragments", {Kind::integer}},
      {"video_path", {Kind::text, "video inputs are not implemented in x2v"}},
      {"sr_ratio", {Kind::number}},
      {"audio_path", {Kind::text, "audio-driven models are not implemented in x2v"}},
      {"video_duration", {Kind::number}},
      {"talk_objects", {Kind::any, "audio-driven models are not implemented in x2v"}},
      {"target_fps", {Kind::integer}},
      {"resize_mode", {Kind::text}},
  };
  return table;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::text:
      return "a string";
    case Kind::integer:
      return "an integer";
    case Kind::number:
      return "a number";
    case Kind::boolean:
      return "true or false";
    case Kind::shape:
      return "[height, width]";
    case Kind::any:
      return "anything";
  }
  return "";
}

bool fits(const nlohmann::json& value, Kind kind) {
  switch (kind) {
    case Kind::text:
      return value.is_string() || value.is_null();
    case Kind::integer:
      return value.is_number_integer();
    case Kind::number:
      return value.is_number();
    case Kind::boolean:
      return value.is_boolean();
    case Kind::shape:
      return value.is_array() && (value.empty() || (value.size() == 2 && value[0].is_number_integer() &&
                                                    value[1].is_number_integer()));
    case Kind::any:
      return true;
  }
  return false;
}

bool is_off(const nlohmann::json& value) {
  return value.is_null() || value == false || value == "" || (value.is_array() && value.empty());
}

[[noreturn]] void refuse(const std::string& field, const std::string& message) {
  throw RequestError(422, field, message);
}

int64_t in_range(const nlohmann::json& body, const char* field, int64_t low, int64_t high) {
  const int64_t value = body.at(field).get<int64_t>();
  if (value < low || value > high)
    refuse(field, concat(field, " is ", value, "; it must be in ", low, "..", high));
  return value;
}

// Standard or URL-safe base64; whitespace is skipped. Returns "" for text that is not base64.
std::string base64_decode(const std::string& text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z')
      value = c - 'A';
    else if (c >= 'a' && c <= 'z')
      value = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      value = c - '0' + 52;
    else if (c == '+' || c == '-')
      value = 62;
    else if (c == '/' || c == '_')
      value = 63;
    else if (c == '=')
      break;
    else if (std::isspace(static_cast<unsigned char>(c)))
      continue;
    else
      return "";
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::string random_letters(int count, const char* alphabet, size_t size) {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  std::string text;
  for (int i = 0; i < count; ++i) text += alphabet[generator() % size];
  return text;
}

// image_path: a data URL or raw base64 of a PNG/JPEG (saved under inputs/imgs), or a file already inside the
// cache's inputs. URLs are not fetched.
std::string resolve_image(const std::string& value, const ServerFolders& folders) {
  if (value.rfind("http://", 0) == 0 || value.rfind("https://", 0) == 0)
    refuse("image_path",
           "x2v serve does not fetch image URLs; send the image as base64 or with /v1/tasks/video/form");
  std::string data = value;
  if (data.rfind("data:", 0) == 0) {
    const size_t comma = data.find(',');
    if (comma == std::string::npos || data.find(";base64") > comma)
      throw RequestError(400, "image_path", "image_path is a data URL without ;base64, data");
    data = data.substr(comma + 1);
  }
  const std::string decoded = base64_decode(data);
  const bool png = decoded.rfind("\x89PNG", 0) == 0, jpeg = decoded.rfind("\xff\xd8\xff", 0) == 0;
  if (png || jpeg) return save_uploaded_image(decoded, png ? "image.png" : "image.jpg", folders);
  // A file the server already holds: only inside its inputs folder.
  const fs::path path = fs::weakly_canonical(fs::path(folders.inputs) / value);
  const fs::path inputs = fs::weakly_canonical(folders.inputs);
  const std::string relative = path.lexically_relative(inputs).string();
  if (relative.empty() || relative.rfind("..", 0) == 0 || fs::path(value).is_absolute())
    throw RequestError(400, "image_path",
                       "image_path is neither a base64 PNG/JPEG nor a file under the server's inputs folder");
  if (!fs::is_regular_file(path))
    throw RequestError(400, "image_path", concat("no image at inputs/", relative));
  return path.string();
}

}  // namespace

nlohmann::json RequestError::body() const {
  return {{"detail", nlohmann::json::array({{{"loc", {"body", field}},
                                             {"msg", what()},
                                             {"type", status == 422 ? "value_error" : "bad_request"}}})}};
}

ServerFolders ServerFolders::make(const std::string& cache, const std::string& lora_dir) {
  ServerFolders folders;
  folders.cache = fs::absolute(cache).lexically_normal().string();
  folders.inputs = (fs::path(folders.cache) / "inputs" / "imgs").string();
  folders.outputs = (fs::path(folders.cache) / "outputs").string();
  folders.lora = lora_dir.empty() ? "" : fs::absolute(lora_dir).lexically_normal().string();
  fs::create_directories(folders.inputs);
  fs::create_directories(folders.outputs);
  return folders;
}

std::string new_task_id() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id;
  for (int group = 0; group < 5; ++group) {
    if (group > 0) id.push_back('-');
    id.append(random_letters(4, kAlphabet, 36));
  }
  return id;
}

std::string save_uploaded_image(const std::string& bytes, const std::string& file_name,
                                const ServerFolders& folders) {
  std::string extension = fs::path(file_name).extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (extension != ".png" && extension != ".jpg" && extension != ".jpeg") extension = ".img";
  static const char kHex[] = "0123456789abcdef";
  const fs::path path = fs::path(folders.inputs) / (random_letters(32, kHex, 16) + extension);
  io::write_file_atomically("serve", path.string(), std::vector<uint8_t>(bytes.begin(), bytes.end()));
  try {
    io::read_image(path.string());  // decodes, or says why not
  } catch (const std::exception& error) {
    fs::remove(path);
    throw RequestError(400, "image_file", concat("the image does not decode: ", error.what()));
  }
  return path.string();
}

std::string output_path(const std::string& name, const ServerFolders& folders) {
  const fs::path relative = fs::path(name).lexically_normal();
  const std::string text = relative.string();
  if (name.empty() || relative.is_absolute() || text.rfind("..", 0) == 0 || text == ".")
    throw RequestError(
        403, "save_result_path",
        concat("'", printable(name), "' leaves the server's outputs folder; give a file name"));
  return (fs::path(folders.outputs) / relative).string();
}

TaskRequest parse_task_request(const nlohmann::json& body, const ServerFolders& folders,
                               const std::string& task) {
  if (!body.is_object()) refuse("", "the request body must be a JSON object");
  std::vector<std::string> names;
  for (const auto& [name, field] : fields()) names.push_back(name);
  for (auto item = body.begin(); item != body.end(); ++item) {
    const auto found = fields().find(item.key());
    if (found == fields().end()) {
      const std::string nearest = nearest_name(item.key(), names);
      refuse(item.key(), concat("unknown field '", printable(item.key()), "'",
                                nearest.empty() ? "" : concat("; did you mean '", nearest, "'?")));
    }
    if (!fits(item.value(), found->second.kind))
      refuse(item.key(),
             concat(item.key(), " must be ", kind_name(found->second.kind), ", not ", item.value().dump()));
    if (found->second.unimplemented != nullptr && !is_off(item.value()))
      refuse(item.key(), concat(item.key(), ": ", found->second.unimplemented));
  }
  TaskRequest request;
  request.sent = body;
  request.task_id = body.contains("task_id") && body["task_id"].is_string()
                        ? body["task_id"].get<std::string>()
                        : new_task_id();
  for (char c : request.task_id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      refuse("task_id", "task_id may hold only letters, digits, '-' and '_'");
  if (request.task_id.empty() || request.task_id.size() > 64)
    refuse("task_id", "task_id must be 1 to 64 characters");
  auto text = [&](const char* field) {
    return body.contains(field) && body[field].is_string() ? body[field].get<std::string>() : std::string();
  };
  request.generation.prompt = text("prompt");
  request.generation.negative_prompt = text("negative_prompt");
  if (body.contains("seed"))
    request.generation.seed = static_cast<uint64_t>(in_range(body, "seed", 0, INT64_MAX));
  if (body.contains("infer_steps")) request.overrides["infer_steps"] = in_range(body, "infer_steps", 1, 1000);
  if (body.contains("target_video_length"))
    request.overrides["target_video_length"] = in_range(body, "target_video_length", 1, 1001);
  if (body.contains("target_shape") && body["target_shape"].size() == 2) {
    request.overrides["target_height"] = body["target_shape"][0];
    request.overrides["target_width"] = body["target_shape"][1];
  }
  if (body.contains("resize_mode") && text("resize_mode") != "adaptive" && !text("resize_mode").empty())
    refuse("resize_mode", "resize_mode: only \"adaptive\" is implemented in x2v");
  if (!text("lora_name").empty()) {
    if (folders.lora.empty()) refuse("lora_name", "lora_name needs the server started with --lora_dir");
    const fs::path name = fs::path(text("lora_name"));
    if (name.has_parent_path() || name.string() == ".." ||
        !fs::is_regular_file(fs::path(folders.lora) / name))
      refuse("lora_name", concat("lora_name '", printable(name.string()), "' is not a file in --lora_dir"));
    const double strength = body.contains("lora_strength") ? body["lora_strength"].get<double>() : 1.0;
    request.overrides["lora_configs"] = {
        {{"path", (fs::path(folders.lora) / name).string()}, {"strength", strength}}};
  }
  const std::string image = text("image_path");
  if (task == "i2v") {
    if (image.empty())
      refuse("image_path", "this server runs i2v: send image_path (base64) or use /v1/tasks/video/form");
    request.generation.image_path = resolve_image(image, folders);
  } else if (!image.empty()) {
    refuse("image_path", "this server runs t2v; image_path is for an i2v server");
  }
  std::string result = text("save_result_path");
  if (result.empty()) result = request.task_id;
  if (fs::path(result).extension() != ".mp4") result += ".mp4";
  output_path(result, folders);  // checks it stays inside outputs
  request.result_name = fs::path(result).lexically_normal().string();
  return request;
}

}  // namespace x2v::server
