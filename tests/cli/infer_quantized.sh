#!/usr/bin/env bash
# infer_quantized.sh X2V OUT FORMAT: LightX2V-format quantized checkpoints through `x2v dit` and `x2v infer`.
#  - The reference script's DiT (tests/fixtures/wan_quant: its FORMAT linears + the unquantized rest in one
#    folder) runs through `x2v dit` and gives, to the byte, what weight_auto_quant gives on the float DiT.
#  - A tiny model shaped like that DiT (make-tiny-model --t5_dim 32) gets its umT5 quantized by `x2v convert`
#    into LightX2V's file name (FORMAT/models_t5_umt5-xxl-enc-FORMAT.pth, found as LightX2V finds it); then
#    `x2v infer` runs the reference DiT (dit_quantized_ckpt) with that umT5 (t5_quantized) into a checked MP4.
set -euo pipefail
x="$1"; out="$2"; format="$3"
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="$here/../fixtures"
dit="$fixtures/wan_dit/t2v"
scheme="$format-vllm"
o="$out/quantized_$format"
rm -rf "$o"; mkdir -p "$o/reference"
ln -s "$fixtures/wan_quant/t2v_${format}_linears.safetensors" "$o/reference/"
ln -s "$fixtures/wan_quant/t2v_unquantized_rest.safetensors" "$o/reference/"

echo "{\"dit_quantized\": true, \"dit_quant_scheme\": \"$scheme\", \"dit_quantized_ckpt\": \"$o/reference\"}" \
  > "$o/reference.json"
echo "{\"dit_quant_scheme\": \"$scheme\", \"weight_auto_quant\": true}" > "$o/auto.json"
for run in reference auto; do
  "$x" dit --model_path "$dit/model_original" --config_json "$o/$run.json" \
    --inputs "$dit/forward_inputs.safetensors" --output "$o/dit_$run.safetensors"
done
cmp "$o/dit_reference.safetensors" "$o/dit_auto.safetensors"

"$x" make-tiny-model "$o/model" --t5_dim 32 >/dev/null
"$x" convert -s "$o/model/models_t5_umt5-xxl-enc-bf16.pth" -o "$o/model/$format" -t wan_t5 --quantized \
  --linear_type "$format" --output_ext .pth --output_name "models_t5_umt5-xxl-enc-$format" >/dev/null
cat > "$o/infer.json" <<JSON
{"infer_steps": 3, "target_video_length": 5, "target_height": 64, "target_width": 96,
 "dit_quantized": true, "dit_quant_scheme": "$scheme", "dit_quantized_ckpt": "$o/reference",
 "t5_quantized": true, "t5_quant_scheme": "$scheme"}
JSON
"$x" infer --model_cls wan2.1 --task t2v --model_path "$o/model" --config_json "$o/infer.json" \
  --prompt "a red car" --save_result_path "$o/video.mp4" 2>&1 | tee "$o/infer.log"
grep -qF "text encoder $o/model/$format/models_t5_umt5-xxl-enc-$format.pth (t5_quant_scheme $scheme)" "$o/infer.log"
bash "$here/check_video.sh" "$o/video.mp4" 5 96 64 16
