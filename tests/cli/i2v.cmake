# Image to video (Wan2.1 I2V) through `x2v infer` on a tiny I2V model: a PNG and a JPEG become videos whose size
# follows the image's aspect ratio at the config's area, and each bad input is one clear line before any work,
# with no file left behind. Included from tests.cmake.
set(X2V_TINY_I2V_MODEL ${X2V_CLI_OUT}/tiny-wan-i2v)
set(X2V_IMAGES ${CMAKE_SOURCE_DIR}/tests/fixtures/images)
add_test(NAME cli.make_tiny_i2v_model COMMAND bash -c "rm -rf '${X2V_TINY_I2V_MODEL}' && '$<TARGET_FILE:x2v>' make-tiny-model '${X2V_TINY_I2V_MODEL}' --task i2v")
set_tests_properties(cli.make_tiny_i2v_model PROPERTIES LABELS cli FIXTURES_SETUP tiny_i2v_model)

set(x2v_tiny_i2v "'$<TARGET_FILE:x2v>' infer --task i2v --model_path '${X2V_TINY_I2V_MODEL}' --config_json '${X2V_TINY_CONFIG}' --prompt 'a cat walking' --seed 3")
# 150x100 at the area of 128x192: 128x192 (the formula keeps the aspect ratio in multiples of 16).
add_test(NAME cli.infer_i2v_png COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/i2v_png'; rm -rf $o; mkdir -p $o; \
${x2v_tiny_i2v} --image_path '${X2V_IMAGES}/testsrc_150x100.png' --save_result_path $o/out.mp4 2>$o/log; \
grep -q 'i2v: .*testsrc_150x100.png (100x150) -> 17 frames of 128x192' $o/log; grep -q 'stage image encoder' $o/log; \
bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16")
set_tests_properties(cli.infer_i2v_png PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_i2v_model)
# A portrait area turns a landscape image into a landscape video of about the same area.
add_test(NAME cli.infer_i2v_jpeg_aspect COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/i2v_jpeg'; rm -rf $o; mkdir -p $o; \
sed -e 's/\"target_height\": 128/\"target_height\": 192/' -e 's/\"target_width\": 192/\"target_width\": 128/' -e 's/\"target_video_length\": 17/\"target_video_length\": 5/' '${X2V_TINY_CONFIG}' > $o/config.json; \
'$<TARGET_FILE:x2v>' infer --task i2v --model_path '${X2V_TINY_I2V_MODEL}' --config_json $o/config.json --prompt 'a cat' \
--image_path '${X2V_IMAGES}/testsrc_150x100.jpg' --save_result_path $o/out.mp4 2>$o/log; \
bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 5 192 128 16")
set_tests_properties(cli.infer_i2v_jpeg_aspect PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_i2v_model)

function(x2v_i2v_error name text)
  add_test(NAME cli.${name} COMMAND env X2V_EXPECT_NO_FILE=${X2V_CLI_OUT}/${name}.mp4 X2V_EXPECT_BEFORE_WORK=1
           bash ${X2V_CLI_DIR}/expect_error.sh ${text} $<TARGET_FILE:x2v> infer --config_json ${X2V_TINY_CONFIG}
           --prompt cat --save_result_path ${X2V_CLI_OUT}/${name}.mp4 ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES LABELS cli FIXTURES_REQUIRED "tiny_model;tiny_i2v_model")
endfunction()
x2v_i2v_error(i2v_without_image "give --image_path IMG" --task i2v --model_path ${X2V_TINY_I2V_MODEL})
x2v_i2v_error(i2v_missing_image "no such image file" --task i2v --model_path ${X2V_TINY_I2V_MODEL} --image_path /nonexistent/cat.png)
x2v_i2v_error(i2v_not_an_image "bad.json" --task i2v --model_path ${X2V_TINY_I2V_MODEL} --image_path ${X2V_CLI_DIR}/bad.json)
x2v_i2v_error(i2v_with_t2v_model "is a t2v model (in_dim 16)" --task i2v --model_path ${X2V_TINY_MODEL} --image_path ${X2V_IMAGES}/testsrc_150x100.png)
x2v_i2v_error(t2v_with_i2v_model "run it with --task i2v" --task t2v --model_path ${X2V_TINY_I2V_MODEL})
x2v_i2v_error(t2v_with_image "--image_path is for i2v" --task t2v --model_path ${X2V_TINY_MODEL} --image_path ${X2V_IMAGES}/testsrc_150x100.png)
# A model folder without the CLIP file names it and the key that overrides it.
add_test(NAME cli.i2v_missing_clip COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/i2v_no_clip'; rm -rf $o; mkdir -p $o; \
cp -r '${X2V_TINY_I2V_MODEL}' $o/model; rm $o/model/models_clip_*.pth; \
X2V_EXPECT_NO_FILE=$o/out.mp4 X2V_EXPECT_BEFORE_WORK=1 bash '${X2V_CLI_DIR}/expect_error.sh' 'models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth (the CLIP image encoder' \
'$<TARGET_FILE:x2v>' infer --task i2v --model_path $o/model --config_json '${X2V_TINY_CONFIG}' --prompt cat --image_path '${X2V_IMAGES}/testsrc_150x100.png' --save_result_path $o/out.mp4")
set_tests_properties(cli.i2v_missing_clip PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_i2v_model)

# An int8 CLIP (clip_quantized): quantized at load with weight_auto_quant; without it the missing quantized file
# is named.
add_test(NAME cli.infer_i2v_clip_int8 COMMAND bash -c "set -e; o='${X2V_CLI_OUT}/i2v_clip_int8'; rm -rf $o; mkdir -p $o; \
sed 's/^}/, \"clip_quantized\": true, \"clip_quant_scheme\": \"int8-vllm\", \"weight_auto_quant\": true}/' '${X2V_TINY_CONFIG}' > $o/config.json; \
'$<TARGET_FILE:x2v>' infer --task i2v --model_path '${X2V_TINY_I2V_MODEL}' --config_json $o/config.json --prompt 'a cat' --image_path '${X2V_IMAGES}/testsrc_150x100.png' --save_result_path $o/out.mp4 2>$o/log; \
bash '${X2V_CLI_DIR}/check_video.sh' $o/out.mp4 17 192 128 16; \
sed 's/^}/, \"clip_quantized\": true, \"clip_quant_scheme\": \"int8-vllm\"}/' '${X2V_TINY_CONFIG}' > $o/no_file.json; \
X2V_EXPECT_NO_FILE=$o/bad.mp4 X2V_EXPECT_BEFORE_WORK=1 bash '${X2V_CLI_DIR}/expect_error.sh' 'has no models_clip_open-clip-xlm-roberta-large-vit-huge-14-int8.pth' \
'$<TARGET_FILE:x2v>' infer --task i2v --model_path '${X2V_TINY_I2V_MODEL}' --config_json $o/no_file.json --prompt cat --image_path '${X2V_IMAGES}/testsrc_150x100.png' --save_result_path $o/bad.mp4")
set_tests_properties(cli.infer_i2v_clip_int8 PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_i2v_model)
