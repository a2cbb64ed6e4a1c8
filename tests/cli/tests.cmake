# Command-line behaviour: exit statuses, one-line errors, nothing half-written.
set(X2V_CLI_DIR ${CMAKE_CURRENT_LIST_DIR})
set(X2V_DIT_FIXTURES ${CMAKE_SOURCE_DIR}/tests/fixtures/wan_dit/t2v)
set(X2V_CLI_OUT ${CMAKE_BINARY_DIR}/cli_out)
file(MAKE_DIRECTORY ${X2V_CLI_OUT})

function(x2v_cli_error name text)
  add_test(NAME cli.${name} COMMAND bash ${X2V_CLI_DIR}/expect_error.sh ${text} $<TARGET_FILE:x2v> ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES LABELS cli ENVIRONMENT "X2V_EXPECT_NO_FILE=${X2V_CLI_OUT}/${name}")
endfunction()
function(x2v_cli_output name text)
  add_test(NAME cli.${name} COMMAND bash ${X2V_CLI_DIR}/expect_output.sh ${text} $<TARGET_FILE:x2v> ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES LABELS cli)
endfunction()

x2v_cli_error(inspect_missing_file "no such file" inspect /nonexistent/weights.safetensors)
x2v_cli_error(unknown_platform "unknown PLATFORM 'quantum'" platforms)
set_property(TEST cli.unknown_platform APPEND PROPERTY ENVIRONMENT "PLATFORM=quantum")
x2v_cli_error(dit_missing_input "has no tensor 'x'" dit --model_path ${X2V_DIT_FIXTURES}/model_original
              --inputs ${X2V_DIT_FIXTURES}/sample_inputs.safetensors --output ${X2V_CLI_OUT}/dit_missing_input)
x2v_cli_error(dit_bad_json "invalid JSON" dit --model_path ${X2V_DIT_FIXTURES}/model_original
              --config_json ${X2V_CLI_DIR}/bad.json --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors
              --output ${X2V_CLI_OUT}/dit_bad_json)
x2v_cli_error(dit_unknown_kernel "unknown attention kernel 'radial_attn'" dit
              --model_path ${X2V_DIT_FIXTURES}/model_original --config_json ${X2V_CLI_DIR}/unknown_kernel.json
              --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors --output ${X2V_CLI_OUT}/dit_unknown_kernel)
x2v_cli_error(dit_unwritable_output "does not exist" dit --model_path ${X2V_DIT_FIXTURES}/model_original
              --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors --output /nonexistent/folder/out.safetensors)
x2v_cli_error(sample_bad_frames "not 4n+1" sample --model_path ${X2V_DIT_FIXTURES}/model_original
              --config_json ${X2V_CLI_DIR}/bad_frames.json --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors
              --output ${X2V_CLI_OUT}/sample_bad_frames)
x2v_cli_error(bad_dtype "DTYPE='FP64'" dit --model_path ${X2V_DIT_FIXTURES}/model_original
              --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors --output ${X2V_CLI_OUT}/bad_dtype)
set_property(TEST cli.bad_dtype APPEND PROPERTY ENVIRONMENT "DTYPE=FP64")

# A forward pass and a short sampling run end to end; the outputs are read back with `x2v inspect`.
add_test(NAME cli.dit_runs COMMAND $<TARGET_FILE:x2v> dit --model_path ${X2V_DIT_FIXTURES}/model_diffusers
         --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors --output ${X2V_CLI_OUT}/dit_out.safetensors)
add_test(NAME cli.sample_runs_from_seed COMMAND $<TARGET_FILE:x2v> sample --model_path
         ${X2V_DIT_FIXTURES}/model_original --config_json ${X2V_CLI_DIR}/tiny_sample.json --seed 7
         --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors --output ${X2V_CLI_OUT}/sample_out.safetensors)
x2v_cli_output(dit_output_readable "out" inspect ${X2V_CLI_OUT}/dit_out.safetensors)
x2v_cli_output(sample_output_readable "[16, 2, 4, 6]" inspect ${X2V_CLI_OUT}/sample_out.safetensors)
set_tests_properties(cli.dit_runs cli.sample_runs_from_seed PROPERTIES LABELS cli)
set_tests_properties(cli.dit_output_readable PROPERTIES DEPENDS cli.dit_runs)
set_tests_properties(cli.sample_output_readable PROPERTIES DEPENDS cli.sample_runs_from_seed)

# The whole text-to-video path on a freshly made tiny model: an MP4 that ffprobe reads with the asked-for
# frame count, size and fps; then the bad inputs, each one clear line and no file left behind.
set(X2V_TINY_MODEL ${X2V_CLI_OUT}/tiny-wan)
set(X2V_TINY_CONFIG ${CMAKE_SOURCE_DIR}/configs/wan/tiny_t2v.json)
add_test(NAME cli.make_tiny_model COMMAND bash -c "rm -rf '${X2V_TINY_MODEL}' && '$<TARGET_FILE:x2v>' make-tiny-model '${X2V_TINY_MODEL}'")
set_tests_properties(cli.make_tiny_model PROPERTIES LABELS cli FIXTURES_SETUP tiny_model)
add_test(NAME cli.infer_tiny COMMAND bash -c "rm -f '${X2V_CLI_OUT}/tiny.mp4' && '$<TARGET_FILE:x2v>' infer --model_cls wan2.1 --task t2v --model_path '${X2V_TINY_MODEL}' --config_json '${X2V_TINY_CONFIG}' --prompt 'a cat walking on the beach at sunset' --seed 3 --save_result_path '${X2V_CLI_OUT}/tiny.mp4' --save_frames '${X2V_CLI_OUT}/tiny_frames'")
set_tests_properties(cli.infer_tiny PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model FIXTURES_SETUP tiny_video)
add_test(NAME cli.infer_tiny_video_probe COMMAND bash ${X2V_CLI_DIR}/check_video.sh ${X2V_CLI_OUT}/tiny.mp4 17 192 128 16)
set_tests_properties(cli.infer_tiny_video_probe PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_video)
add_test(NAME cli.infer_tiny_png_frames COMMAND bash -c "test $(ls '${X2V_CLI_OUT}/tiny_frames' | grep -c '\\.png$') -eq 17")
set_tests_properties(cli.infer_tiny_png_frames PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_video)

# The stage commands chained: encode-text -> sample -> decode give a video too.
add_test(NAME cli.stages_chain COMMAND bash -c "set -e; x='$<TARGET_FILE:x2v>'; o='${X2V_CLI_OUT}'; rm -f $o/stage_*; $x encode-text --model_path '${X2V_TINY_MODEL}' --config_json '${X2V_TINY_CONFIG}' --prompt 'a red car' --output $o/stage_text.safetensors; $x sample --model_path '${X2V_TINY_MODEL}' --config_json '${X2V_TINY_CONFIG}' --inputs $o/stage_text.safetensors --seed 1 --output $o/stage_latents.safetensors; $x decode --model_path '${X2V_TINY_MODEL}' --config_json '${X2V_TINY_CONFIG}' --inputs $o/stage_latents.safetensors --output $o/stage_video.mp4; bash '${X2V_CLI_DIR}/check_video.sh' $o/stage_video.mp4 17 192 128 16")
set_tests_properties(cli.stages_chain PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)

function(x2v_infer_error name text)
  x2v_cli_error(${name} ${text} infer --task t2v --save_result_path ${X2V_CLI_OUT}/${name}.mp4 ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES FIXTURES_REQUIRED tiny_model)
endfunction()
x2v_infer_error(infer_bad_frames "not 4n+1" --model_path ${X2V_TINY_MODEL} --config_json ${X2V_CLI_DIR}/bad_frames.json --prompt cat)
x2v_infer_error(infer_bad_size "must be positive multiples of 16" --model_path ${X2V_TINY_MODEL} --config_json ${X2V_CLI_DIR}/bad_size.json --prompt cat)
x2v_infer_error(infer_empty_prompt "the prompt is empty" --model_path ${X2V_TINY_MODEL} --config_json ${X2V_TINY_CONFIG} --prompt "  ")
x2v_infer_error(infer_unknown_model_cls "supported: wan2.1, wan2.1_distill" --model_path ${X2V_TINY_MODEL} --prompt cat --model_cls wan9)
x2v_infer_error(infer_missing_model_dir "does not exist" --model_path /nonexistent/Wan2.1-T2V-1.3B --prompt cat)
x2v_cli_error(infer_unwritable_output "does not exist" infer --model_path ${X2V_TINY_MODEL} --config_json ${X2V_TINY_CONFIG}
              --prompt cat --save_result_path /nonexistent/folder/out.mp4)
set_tests_properties(cli.infer_unwritable_output PROPERTIES FIXTURES_REQUIRED tiny_model)
# A model directory without its VAE: the error names the file expected.
add_test(NAME cli.infer_missing_vae COMMAND bash -c "set -e; d='${X2V_CLI_OUT}/tiny-no-vae'; rm -rf $d; mkdir -p $d; for f in '${X2V_TINY_MODEL}'/*; do case $f in *Wan2.1_VAE.pth) ;; *) ln -s $f $d/ ;; esac; done; X2V_EXPECT_NO_FILE='${X2V_CLI_OUT}/infer_missing_vae' bash '${X2V_CLI_DIR}/expect_error.sh' 'has no Wan2.1_VAE.pth' '$<TARGET_FILE:x2v>' infer --model_path $d --prompt cat --save_result_path '${X2V_CLI_OUT}/infer_missing_vae.mp4'")
set_tests_properties(cli.infer_missing_vae PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)

# ---- x2v convert (LightX2V's converter): quantize, rename, merge LoRAs; then run what it wrote ----
set(X2V_LORA_FIXTURES ${CMAKE_SOURCE_DIR}/tests/fixtures/lora)
set(X2V_CONVERT_OUT ${X2V_CLI_OUT}/convert)
add_test(NAME cli.convert_int8_by_block COMMAND bash -c "rm -rf '${X2V_CONVERT_OUT}/int8' && '$<TARGET_FILE:x2v>' convert -s '${X2V_DIT_FIXTURES}/model_original' -o '${X2V_CONVERT_OUT}/int8' --quantized --linear_type int8 --save_by_block && test -f '${X2V_CONVERT_OUT}/int8/block_1.safetensors' && test -f '${X2V_CONVERT_OUT}/int8/non_block.safetensors' && test -f '${X2V_CONVERT_OUT}/int8/diffusion_pytorch_model.safetensors.index.json'")
set_tests_properties(cli.convert_int8_by_block PROPERTIES LABELS cli FIXTURES_SETUP convert_int8)
# The converted checkpoint through dit_quantized_ckpt gives, to the byte, what weight_auto_quant gives.
add_test(NAME cli.convert_int8_dit_runs COMMAND bash -c "set -e; x='$<TARGET_FILE:x2v>'; o='${X2V_CONVERT_OUT}'; rm -f $o/int8_*.json $o/int8_out_*; echo '{\"dit_quantized\": true, \"dit_quant_scheme\": \"int8-vllm\", \"dit_quantized_ckpt\": \"'$o/int8'\"}' > $o/int8_ckpt.json; echo '{\"dit_quant_scheme\": \"int8-vllm\", \"weight_auto_quant\": true}' > $o/int8_auto.json; for c in ckpt auto; do $x dit --model_path '${X2V_DIT_FIXTURES}/model_original' --config_json $o/int8_$c.json --inputs '${X2V_DIT_FIXTURES}/forward_inputs.safetensors' --output $o/int8_out_$c.safetensors; done; cmp $o/int8_out_ckpt.safetensors $o/int8_out_auto.safetensors")
set_tests_properties(cli.convert_int8_dit_runs PROPERTIES LABELS cli FIXTURES_REQUIRED convert_int8)
# Two LoRAs (original and diffusers names) merged into diffusers-named weights renamed back, quantized to fp8,
# written as a model folder (config.json copied) that `x2v dit` runs as its model.
add_test(NAME cli.convert_lora_fp8_model_runs COMMAND bash -c "set -e; x='$<TARGET_FILE:x2v>'; o='${X2V_CONVERT_OUT}'; rm -rf $o/lora_fp8 $o/lora_fp8.json $o/lora_fp8_out.safetensors; $x convert -s '${X2V_DIT_FIXTURES}/model_diffusers' -o $o/lora_fp8 -d backward --lora_path '${X2V_LORA_FIXTURES}/lora_wan_up_down.safetensors' '${X2V_LORA_FIXTURES}/lora_diffusers_a_b.safetensors' --lora_strength 0.8 0.5 --quantized --linear_type fp8 --non_linear_dtype torch.bfloat16 --single_file --copy_no_weight_files | grep -q '20 quantized, 7 changed by LoRA'; test -f $o/lora_fp8/converted.safetensors -a -f $o/lora_fp8/config.json; echo '{\"dit_quantized\": true, \"dit_quant_scheme\": \"fp8-sgl\"}' > $o/lora_fp8.json; $x dit --model_path $o/lora_fp8 --config_json $o/lora_fp8.json --inputs '${X2V_DIT_FIXTURES}/forward_inputs.safetensors' --output $o/lora_fp8_out.safetensors; $x inspect $o/lora_fp8_out.safetensors | grep -q '^out '")
set_tests_properties(cli.convert_lora_fp8_model_runs PROPERTIES LABELS cli)
function(x2v_convert_error name text)
  x2v_cli_error(${name} ${text} convert -o ${X2V_CLI_OUT}/${name} ${ARGN})
endfunction()
x2v_convert_error(convert_unknown_model_type "use wan_dit" -s ${X2V_DIT_FIXTURES}/model_original -t wan_vae)
x2v_convert_error(convert_not_a_dit "not a Wan DiT checkpoint" -s ${CMAKE_SOURCE_DIR}/tests/fixtures/t5/text_encoder)
x2v_convert_error(convert_lora_shape_mismatch "does not fit 'blocks.0.self_attn.k.weight'"
                  -s ${X2V_DIT_FIXTURES}/model_original --lora_path ${X2V_LORA_FIXTURES}/lora_bad_shape.safetensors)
x2v_convert_error(convert_lora_unmatched "changes 'blocks.7.self_attn.q.weight', which"
                  -s ${X2V_DIT_FIXTURES}/model_original --lora_path ${X2V_LORA_FIXTURES}/lora_unmatched.safetensors)
x2v_convert_error(convert_quantized_without_type "--quantized needs --linear_type" -s ${X2V_DIT_FIXTURES}/model_original --quantized)
x2v_cli_error(convert_into_source "is the folder of the source" convert -s ${X2V_DIT_FIXTURES}/model_original
              -o ${X2V_DIT_FIXTURES}/model_original)
# ---- end of x2v convert ----

# lora_configs in a config merge at load exactly what `x2v convert --lora_path` merges into the file.
add_test(NAME cli.lora_configs_equal_convert_merge COMMAND bash -c "set -e; x='$<TARGET_FILE:x2v>'; o='${X2V_CLI_OUT}/lora_configs'; rm -rf $o; mkdir -p $o; $x convert -s '${X2V_DIT_FIXTURES}/model_original' -o $o/merged --lora_path '${X2V_LORA_FIXTURES}/lora_wan_up_down.safetensors' --lora_strength 0.8 --non_linear_dtype keep --single_file --copy_no_weight_files >/dev/null; echo '{\"lora_configs\": [{\"path\": \"${X2V_LORA_FIXTURES}/lora_wan_up_down.safetensors\", \"strength\": 0.8}]}' > $o/lora.json; $x dit --model_path '${X2V_DIT_FIXTURES}/model_original' --config_json $o/lora.json --inputs '${X2V_DIT_FIXTURES}/forward_inputs.safetensors' --output $o/at_load.safetensors; $x dit --model_path $o/merged --inputs '${X2V_DIT_FIXTURES}/forward_inputs.safetensors' --output $o/converted.safetensors; $x dit --model_path '${X2V_DIT_FIXTURES}/model_original' --inputs '${X2V_DIT_FIXTURES}/forward_inputs.safetensors' --output $o/plain.safetensors; cmp $o/at_load.safetensors $o/converted.safetensors; ! cmp -s $o/at_load.safetensors $o/plain.safetensors")
set_tests_properties(cli.lora_configs_equal_convert_merge PROPERTIES LABELS cli)
# A tiny model's DiT converted to int8 and to fp8 runs through `x2v infer` (dit_quantized_ckpt).
foreach(format int8 fp8)
  add_test(NAME cli.infer_tiny_${format} COMMAND bash -c "set -e; x='$<TARGET_FILE:x2v>'; o='${X2V_CLI_OUT}/tiny_${format}'; rm -rf $o; mkdir -p $o; $x convert -s '${X2V_TINY_MODEL}' -o $o/dit --quantized --linear_type ${format} >/dev/null; echo '{\"infer_steps\": 4, \"target_video_length\": 17, \"target_height\": 128, \"target_width\": 192, \"dit_quantized\": true, \"dit_quant_scheme\": \"${format}-vllm\", \"dit_quantized_ckpt\": \"'$o/dit'\"}' > $o/config.json; $x infer --model_path '${X2V_TINY_MODEL}' --config_json $o/config.json --prompt 'a red car' --save_result_path $o/${format}.mp4; bash '${X2V_CLI_DIR}/check_video.sh' $o/${format}.mp4 17 192 128 16")
  set_tests_properties(cli.infer_tiny_${format} PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)
endforeach()
# LightX2V-format int8 and fp8 checkpoints from the reference script (DiT) and from `x2v convert` (umT5)
# through `x2v dit` and `x2v infer`.
foreach(format int8 fp8)
  add_test(NAME cli.infer_quantized_${format} COMMAND bash ${X2V_CLI_DIR}/infer_quantized.sh $<TARGET_FILE:x2v> ${X2V_CLI_OUT} ${format})
  set_tests_properties(cli.infer_quantized_${format} PROPERTIES LABELS cli)
endforeach()
# t5_quantized without a quantized umT5 in the model folder, or without a quantized scheme: one line each.
x2v_infer_error(infer_t5_quantized_missing "has no models_t5_umt5-xxl-enc-int8.pth" --model_path ${X2V_TINY_MODEL}
                --config_json ${X2V_CLI_DIR}/t5_quantized.json --prompt cat)
x2v_infer_error(infer_t5_quantized_default "t5_quantized is true but t5_quant_scheme is 'Default'"
                --model_path ${X2V_TINY_MODEL} --config_json ${X2V_CLI_DIR}/t5_quantized_default.json --prompt cat)
# ... and with weight_auto_quant the float umT5 is quantized at load.
add_test(NAME cli.encode_text_t5_auto_quant COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/t5_auto'; rm -rf $o; mkdir -p $o; echo '{\"t5_quantized\": true, \"t5_quant_scheme\": \"fp8-sgl\", \"weight_auto_quant\": true}' > $o/config.json; '$<TARGET_FILE:x2v>' encode-text --model_path '${X2V_TINY_MODEL}' --config_json $o/config.json --prompt 'a red car' --output $o/text.safetensors 2>&1 | grep -F 'models_t5_umt5-xxl-enc-bf16.pth (t5_quant_scheme fp8-sgl, weight_auto_quant)' >/dev/null; test -f $o/text.safetensors")
set_tests_properties(cli.encode_text_t5_auto_quant PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)

# SIGINT during the DiT, SIGINT and SIGTERM during the VAE decode with --save_frames: x2v dies by the signal
# (130 / 143), leaves no temporary, and an earlier out.mp4 and frames folder stay byte-identical.
add_test(NAME cli.interrupt COMMAND bash ${X2V_CLI_DIR}/interrupt.sh $<TARGET_FILE:x2v> ${X2V_CLI_OUT}/interrupt)
set_tests_properties(cli.interrupt PROPERTIES LABELS cli TIMEOUT 180)
include(${CMAKE_CURRENT_LIST_DIR}/newcomer.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/offload.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/i2v.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/wan22.cmake)
