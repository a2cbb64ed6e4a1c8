# Wan2.2 through `x2v infer` on tiny models: TI2V-5B (wan2.2, the Wan2.2 VAE) and A14B (wan2.2_moe, two experts),
# end to end and their bad inputs. Included from tests.cmake, after i2v.cmake (it uses its image and model).

# TI2V-5B t2v: 48 latent channels at 16x; a Wan2.1 VAE given for it and a size off the 32-pixel grid are named.
set(X2V_TINY_TI2V_MODEL ${X2V_CLI_OUT}/tiny-wan22-ti2v)
add_test(NAME cli.infer_ti2v_t2v COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/ti2v'; rm -rf $o '${X2V_TINY_TI2V_MODEL}'; mkdir -p $o; \
'$<TARGET_FILE:x2v>' make-tiny-model '${X2V_TINY_TI2V_MODEL}' --model_cls wan2.2 >/dev/null 2>&1; test -f '${X2V_TINY_TI2V_MODEL}/Wan2.2_VAE.pth'; \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2 --model_path '${X2V_TINY_TI2V_MODEL}' --config_json '${X2V_TINY_CONFIG}' --prompt 'a cat' --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'latents 48x5x8x12, 120 DiT tokens' $o/log; bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_ti2v_t2v PROPERTIES LABELS cli FIXTURES_SETUP tiny_ti2v_model)
add_test(NAME cli.ti2v_wrong_vae COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/ti2v_wrong_vae'; rm -rf $o; mkdir -p $o; \
sed 's|^}|, \"vae_path\": \"${X2V_TINY_MODEL}/Wan2.1_VAE.pth\"}|' '${X2V_TINY_CONFIG}' > $o/config.json; \
X2V_EXPECT_NO_FILE=$o/out.mp4 X2V_EXPECT_BEFORE_WORK=1 bash '${X2V_CLI_DIR}/expect_error.sh' 'the DiT makes 48 latent channels but' \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2 --model_path '${X2V_TINY_TI2V_MODEL}' --config_json $o/config.json --prompt cat --save_result_path $o/out.mp4")
set_tests_properties(cli.ti2v_wrong_vae PROPERTIES LABELS cli FIXTURES_REQUIRED "tiny_model;tiny_ti2v_model")
add_test(NAME cli.ti2v_size_off_grid COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/ti2v_size'; rm -rf $o; mkdir -p $o; \
sed 's/\"target_height\": 128/\"target_height\": 144/' '${X2V_TINY_CONFIG}' > $o/config.json; \
X2V_EXPECT_NO_FILE=$o/out.mp4 X2V_EXPECT_BEFORE_WORK=1 bash '${X2V_CLI_DIR}/expect_error.sh' 'must be multiples of 32' \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2 --model_path '${X2V_TINY_TI2V_MODEL}' --config_json $o/config.json --prompt cat --save_result_path $o/out.mp4")
set_tests_properties(cli.ti2v_size_off_grid PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_ti2v_model)

# Wan2.2 A14B (wan2.2_moe): the high-noise expert, then the low-noise one past the boundary, one at a time; t2v, and
# i2v without CLIP (Wan2.2's I2V DiTs take none).
set(X2V_TINY_MOE_MODEL ${X2V_CLI_OUT}/tiny-wan-moe)
add_test(NAME cli.infer_moe_t2v COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/moe'; rm -rf $o '${X2V_TINY_MOE_MODEL}'; mkdir -p $o; \
'$<TARGET_FILE:x2v>' make-tiny-model '${X2V_TINY_MOE_MODEL}' --model_cls wan2.2_moe >/dev/null 2>&1; \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2_moe --model_path '${X2V_TINY_MOE_MODEL}' --config_json '${X2V_TINY_CONFIG}' --prompt 'a cat' --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'experts: high-noise .*high_noise_model while timestep >= 875' $o/log; \
grep -q 'step 1 (timestep 999): the high-noise expert' $o/log; grep -q 'the low-noise expert' $o/log; \
bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_moe_t2v PROPERTIES LABELS cli FIXTURES_SETUP tiny_moe_model)
add_test(NAME cli.infer_moe_i2v COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/moe_i2v'; rm -rf $o; mkdir -p $o; \
'$<TARGET_FILE:x2v>' make-tiny-model $o/model --model_cls wan2.2_moe --task i2v >/dev/null 2>&1; test ! -e $o/model/models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth; \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2_moe --task i2v --model_path $o/model --config_json '${X2V_TINY_CONFIG}' --prompt 'a cat' \
--image_path '${X2V_IMAGES}/testsrc_150x100.png' --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'no CLIP image encoder' $o/log; grep -q 'timestep >= 900' $o/log; bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_moe_i2v PROPERTIES LABELS cli)
add_test(NAME cli.moe_missing_expert COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/moe_missing'; rm -rf $o; mkdir -p $o; \
cp -r '${X2V_TINY_MOE_MODEL}' $o/model; rm -r $o/model/low_noise_model; \
X2V_EXPECT_NO_FILE=$o/out.mp4 X2V_EXPECT_BEFORE_WORK=1 bash '${X2V_CLI_DIR}/expect_error.sh' 'low_noise_model/ (the low-noise expert' \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2_moe --model_path $o/model --config_json '${X2V_TINY_CONFIG}' --prompt cat --save_result_path $o/out.mp4")
set_tests_properties(cli.moe_missing_expert PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_moe_model)
add_test(NAME cli.moe_bad_boundary COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/moe_boundary'; rm -rf $o; mkdir -p $o; \
sed 's/^}/, \"boundary\": 1.5}/' '${X2V_TINY_CONFIG}' > $o/config.json; \
X2V_EXPECT_NO_FILE=$o/out.mp4 X2V_EXPECT_BEFORE_WORK=1 bash '${X2V_CLI_DIR}/expect_error.sh' 'boundary 1.5 is outside (0, 1)' \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2_moe --model_path '${X2V_TINY_MOE_MODEL}' --config_json $o/config.json --prompt cat --save_result_path $o/out.mp4")
set_tests_properties(cli.moe_bad_boundary PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_moe_model)
add_test(NAME cli.guide_list_needs_moe COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/guide_list'; rm -rf $o; mkdir -p $o; \
sed 's/\"sample_guide_scale\": 6/\"sample_guide_scale\": [4.0, 3.0]/' '${X2V_TINY_CONFIG}' > $o/config.json; \
X2V_EXPECT_NO_FILE=$o/out.mp4 bash '${X2V_CLI_DIR}/expect_error.sh' 'only Wan2.2' \
'$<TARGET_FILE:x2v>' infer --model_path '${X2V_TINY_MODEL}' --config_json $o/config.json --prompt cat --save_result_path $o/out.mp4")
set_tests_properties(cli.guide_list_needs_moe PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)
# wan2.2_moe_distill: the switch by step index (the high-noise expert for steps 1 and 2), both experts quantized to
# int8 at load.
add_test(NAME cli.infer_moe_distill_int8 COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/moe_distill'; rm -rf $o; mkdir -p $o; \
sed 's/^}/, \"dit_quant_scheme\": \"int8-vllm\", \"weight_auto_quant\": true}/' '${X2V_TINY_CONFIG}' > $o/config.json; \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2_moe_distill --model_path '${X2V_TINY_MOE_MODEL}' --config_json $o/config.json --prompt 'a cat' --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'while step < 2 \\[boundary_step_index\\]' $o/log; grep -q 'step 3 (timestep [0-9.]*): the low-noise expert' $o/log; \
grep -q 'block linears int8' $o/log; bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_moe_distill_int8 PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_moe_model)
# TI2V-5B i2v: the image covered and centre-cropped to the size nearest its aspect ratio (multiples of 32), its
# latent held as the first frame; no CLIP.
add_test(NAME cli.infer_ti2v_i2v COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/ti2v_i2v'; rm -rf $o; mkdir -p $o; \
'$<TARGET_FILE:x2v>' infer --model_cls wan2.2 --task i2v --model_path '${X2V_TINY_TI2V_MODEL}' --config_json '${X2V_TINY_CONFIG}' --prompt 'a cat' \
--image_path '${X2V_IMAGES}/testsrc_150x100.png' --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'wan2.2 i2v: .*(100x150) -> 17 frames of 128x192' $o/log; grep -q 'no CLIP image encoder' $o/log; \
bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_ti2v_i2v PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_ti2v_model)
# Both A14B experts through the converter (int8, LightX2V's layout): the quantized experts, named by
# high/low_noise_quantized_ckpt, make the frames weight_auto_quant makes (one 8-bit level allowed: one full-suite
# run on a loaded machine saw this test fail once, not reproduced since).
add_test(NAME cli.moe_converted_int8_experts COMMAND bash -c "set -e; x='$<TARGET_FILE:x2v>'; o='${X2V_CLI_OUT}/moe_int8'; rm -rf $o; mkdir -p $o; \
for e in high low; do $x convert -s '${X2V_TINY_MOE_MODEL}/'$e'_noise_model' -o $o/$e --quantized --linear_type int8 >/dev/null 2>&1; done; \
sed \"s|^}|, \\\"dit_quantized\\\": true, \\\"dit_quant_scheme\\\": \\\"int8-vllm\\\", \\\"high_noise_quantized_ckpt\\\": \\\"$o/high\\\", \\\"low_noise_quantized_ckpt\\\": \\\"$o/low\\\"}|\" '${X2V_TINY_CONFIG}' > $o/ckpt.json; \
sed 's/^}/, \"dit_quant_scheme\": \"int8-vllm\", \"weight_auto_quant\": true}/' '${X2V_TINY_CONFIG}' > $o/auto.json; \
for c in ckpt auto; do $x infer --model_cls wan2.2_moe --model_path '${X2V_TINY_MOE_MODEL}' --config_json $o/$c.json --prompt 'a cat' --save_result_path $o/$c.mp4 --save_frames $o/$c 2>$o/$c.log; done; \
grep -q 'block linears int8' $o/ckpt.log; grep -q \"high-noise expert .*(quantized: $o/high)\" $o/ckpt.log; bash '${X2V_CLI_DIR}/compare_frames.sh' $o/auto $o/ckpt 1")
set_tests_properties(cli.moe_converted_int8_experts PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_moe_model)
