# Offload and lazy loading through `x2v infer` on the tiny model: streamed runs write the resident run's
# frames exactly (cpu, from one safetensors file and from LightX2V's block-split layout; the toy plugin's
# own memory), and the keys' bad values are one-line errors. Included from tests.cmake.
set(X2V_OFFLOAD_OUT ${X2V_CLI_OUT}/offload)
set(x2v_tiny_infer "'$<TARGET_FILE:x2v>' infer --model_path '${X2V_TINY_MODEL}' --prompt 'a cat walking on the beach at sunset' --seed 3")
# The tiny config with offload keys added (jq-free: the tiny config is one flat object).
set(x2v_offload_config "sed 's/^}/, \"cpu_offload\": true, \"num_disk_workers\": 2, KEYS}/' '${X2V_TINY_CONFIG}'")

add_test(NAME cli.infer_lazy_load_matches_resident COMMAND bash -c "set -e; o='${X2V_OFFLOAD_OUT}/lazy'; rm -rf $o; mkdir -p $o; \
${x2v_offload_config} | sed 's/KEYS/\"lazy_load\": true, \"offload_granularity\": \"phase\"/' > $o/config.json; \
${x2v_tiny_infer} --config_json $o/config.json --save_result_path $o/out.mp4 --save_frames $o/frames 2>$o/log; \
grep -q 'phase lazy_load, 2 disk workers' $o/log; bash '${X2V_CLI_DIR}/compare_frames.sh' '${X2V_CLI_OUT}/tiny_frames' $o/frames 0")
set_tests_properties(cli.infer_lazy_load_matches_resident PROPERTIES LABELS cli FIXTURES_REQUIRED "tiny_model;tiny_video")

add_test(NAME cli.infer_lazy_load_block_files COMMAND bash -c "set -e; o='${X2V_OFFLOAD_OUT}/blocks'; rm -rf $o; mkdir -p $o; \
'$<TARGET_FILE:x2v>' convert --source '${X2V_TINY_MODEL}' --output $o/dit --save_by_block --copy_no_weight_files >/dev/null 2>&1; \
test -f $o/dit/block_1.safetensors; \
${x2v_offload_config} | sed \"s|KEYS|\\\"lazy_load\\\": true, \\\"dit_original_ckpt\\\": \\\"$o/dit\\\"|\" > $o/config.json; \
${x2v_tiny_infer} --config_json $o/config.json --save_result_path $o/out.mp4 --save_frames $o/frames; \
bash '${X2V_CLI_DIR}/compare_frames.sh' '${X2V_CLI_OUT}/tiny_frames' $o/frames 0; \
rm $o/dit/block_1.safetensors; \
! ${x2v_tiny_infer} --config_json $o/config.json --save_result_path $o/bad.mp4 2>$o/err; grep -q 'block_1.safetensors' $o/err; test ! -e $o/bad.mp4")
set_tests_properties(cli.infer_lazy_load_block_files PROPERTIES LABELS cli FIXTURES_REQUIRED "tiny_model;tiny_video")

x2v_config_error(config_offload_granularity_unknown "offload_granularity 'layer' is not one of block, phase, model" offload_granularity.json)
x2v_infer_warning(config_offload_never_read "offload_ratio" offload_ratio.json)

# Feature caching through `x2v infer`: the log counts the evaluations whose blocks were skipped.
add_test(NAME cli.infer_teacache_skips COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/teacache'; rm -rf $o; mkdir -p $o; \
sed 's/^}/, \"feature_caching\": \"Tea\", \"teacache_thresh\": 1.5, \"coefficients\": [[1.0, 0.0], [1.0, 0.0]]}/' '${X2V_TINY_CONFIG}' > $o/config.json; \
${x2v_tiny_infer} --config_json $o/config.json --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'feature caching Tea (teacache_thresh 1.5) \\[config\\]' $o/log; grep -Eq 'the blocks were skipped in [1-9][0-9]* of 16 DiT evaluations' $o/log; test -f $o/out.mp4")
set_tests_properties(cli.infer_teacache_skips PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)
x2v_config_error(config_feature_caching_unknown "feature_caching 'FirstBlockCache' is not one of NoCaching, Tea, Mag" feature_caching.json)
# LightX2V's published MagCache ratios for T2V 1.3B decide without the model: 58 of the 100 evaluations of the
# 50-step schedule skip their blocks (LightX2V's algorithm gives the same count).
add_test(NAME cli.infer_magcache_published_ratios COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/magcache'; rm -rf $o; mkdir -p $o; \
sed -e 's/\"target_video_length\": 81/\"target_video_length\": 5/' -e 's/\"target_height\": 480/\"target_height\": 32/' -e 's/\"target_width\": 832/\"target_width\": 48/' '${CMAKE_SOURCE_DIR}/configs/caching/wan_t2v_1_3b_mag_480p.json' > $o/config.json; \
${x2v_tiny_infer} --config_json $o/config.json --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'the blocks were skipped in 58 of 100 DiT evaluations (conditional 29/50, unconditional 29/50)' $o/log")
set_tests_properties(cli.infer_magcache_published_ratios PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)

# The TAEHV decoder (use_tae) in place of the VAE's: the video has the VAE's frame count and size.
add_test(NAME cli.infer_tae COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/tae'; rm -rf $o; mkdir -p $o; \
'$<TARGET_FILE:x2v>' make-tiny-model $o/model --with_tae >/dev/null 2>&1; \
sed 's/^}/, \"use_tae\": true}/' '${X2V_TINY_CONFIG}' > $o/config.json; \
'$<TARGET_FILE:x2v>' infer --model_path $o/model --config_json $o/config.json --prompt 'a red car' --save_result_path $o/out.mp4 2>$o/log; \
grep -qF \"TAEHV decoder $o/model/taew2_1.safetensors\" $o/log; bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_tae PROPERTIES LABELS cli)
x2v_config_error(config_use_tae_without_file "has no taew2_1.pth, taew2_1.safetensors" use_tae_no_file.json)

# LightVAE (use_lightvae): the Wan2.1 VAE at a quarter of its width decodes; the full-width VAE given for it is
# named.
add_test(NAME cli.infer_lightvae COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/lightvae'; rm -rf $o; mkdir -p $o; \
'$<TARGET_FILE:x2v>' make-tiny-model $o/model --vae_size light >/dev/null 2>&1; mv $o/model/Wan2.1_VAE.pth $o/model/lightvaew2_1.pth; \
sed 's/^}/, \"use_lightvae\": true}/' '${X2V_TINY_CONFIG}' > $o/config.json; \
'$<TARGET_FILE:x2v>' infer --model_path $o/model --config_json $o/config.json --prompt 'a red car' --save_result_path $o/out.mp4 2>$o/log; \
grep -qF \"LightVAE decoder $o/model/lightvaew2_1.pth\" $o/log; bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16; \
sed 's|^}|, \"use_lightvae\": true, \"vae_path\": \"${X2V_TINY_MODEL}/Wan2.1_VAE.pth\"}|' '${X2V_TINY_CONFIG}' > $o/full.json; \
! '$<TARGET_FILE:x2v>' infer --model_path $o/model --config_json $o/full.json --prompt 'a red car' --save_result_path $o/bad.mp4 2>$o/err; \
grep -q 'use_lightvae takes LightX2V.s pruned LightVAE' $o/err; test ! -e $o/bad.mp4")
set_tests_properties(cli.infer_lightvae PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)

# The distilled recipe: --model_cls wan2.1_distill with a LoRA in lora_configs (4 steps, no CFG, shift 5) on a
# tiny model of the LoRA fixture's shape.
add_test(NAME cli.infer_distill_lora_recipe COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/distill_lora'; rm -rf $o; mkdir -p $o; \
'$<TARGET_FILE:x2v>' make-tiny-model $o/model --t5_dim 32 >/dev/null 2>&1; \
sed -e 's|lightx2v/Wan2.1-Distill-Loras/wan2.1_t2v_14b_lora_rank64_lightx2v_4step.safetensors|${CMAKE_SOURCE_DIR}/tests/fixtures/lora/lora_wan_up_down.safetensors|' \
    -e 's/\"target_video_length\": 81/\"target_video_length\": 17/' -e 's/\"target_height\": 480/\"target_height\": 128/' -e 's/\"target_width\": 832/\"target_width\": 192/' \
    '${CMAKE_SOURCE_DIR}/configs/distill/wan_t2v_distill_lora_4step.json' > $o/config.json; \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.1_distill --model_path $o/model --config_json $o/config.json --prompt 'a red car' --save_result_path $o/out.mp4 2>$o/log; \
grep -q '4 steps (denoising_step_list) \\[config\\], solver distill, shift 5 \\[config\\], CFG off' $o/log; grep -q 'LoRA: .* changes to' $o/log; \
bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_distill_lora_recipe PROPERTIES LABELS cli)
