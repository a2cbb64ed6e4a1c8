# The plugin boundary: toy plugins written in C against include/x2v/platform_abi.h ONLY (no x2v source
# directory on their include path, no link to x2v), loaded by a gtest binary. Included by tests/CMakeLists.txt.
set(X2V_PLUGIN_TEST_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(X2V_PLUGIN_TEST_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)

function(x2v_test_plugin target source output_dir)
  add_library(${target} MODULE ${source})
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  set_target_properties(${target} PROPERTIES
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${output_dir})
endfunction()

x2v_test_plugin(x2v_toy_plugin ${X2V_PLUGIN_TEST_SOURCE_DIR}/toy_plugin.c ${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy)
target_link_libraries(x2v_toy_plugin PRIVATE m)

set(X2V_BROKEN_PLUGINS)
foreach(variant wrong_abi no_register register_fails abi_one bad_traits lying_traits)
  set(target x2v_broken_${variant}_plugin)
  x2v_test_plugin(${target} ${X2V_PLUGIN_TEST_SOURCE_DIR}/broken_plugins.c ${X2V_PLUGIN_TEST_OUTPUT_DIR}/broken)
  string(TOUPPER ${variant} variant_upper)
  target_compile_definitions(${target} PRIVATE BROKEN_${variant_upper})
  list(APPEND X2V_BROKEN_PLUGINS ${target})
endforeach()

add_executable(x2v_plugin_tests ${X2V_PLUGIN_TEST_SOURCE_DIR}/plugin_test.cpp)
target_link_libraries(x2v_plugin_tests PRIVATE x2v_core GTest::gtest GTest::gtest_main)
target_compile_definitions(x2v_plugin_tests PRIVATE
  X2V_TOY_PLUGIN="$<TARGET_FILE:x2v_toy_plugin>"
  X2V_TOY_PLUGIN_DIR="${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy"
  X2V_WRONG_ABI_PLUGIN="$<TARGET_FILE:x2v_broken_wrong_abi_plugin>"
  X2V_NO_REGISTER_PLUGIN="$<TARGET_FILE:x2v_broken_no_register_plugin>"
  X2V_REGISTER_FAILS_PLUGIN="$<TARGET_FILE:x2v_broken_register_fails_plugin>"
  X2V_ABI_ONE_PLUGIN="$<TARGET_FILE:x2v_broken_abi_one_plugin>"
  X2V_BAD_TRAITS_PLUGIN="$<TARGET_FILE:x2v_broken_bad_traits_plugin>"
  X2V_LYING_TRAITS_PLUGIN="$<TARGET_FILE:x2v_broken_lying_traits_plugin>")
add_dependencies(x2v_plugin_tests x2v_toy_plugin ${X2V_BROKEN_PLUGINS})
gtest_discover_tests(x2v_plugin_tests TEST_FILTER "-PluginEnvironment.*" DISCOVERY_TIMEOUT 60
                     PROPERTIES LABELS plugin)

# initialize_platforms() reads X2V_PLUGIN_PATH once per process, so the environment path is its own run
# (PluginEnvironment.* skip themselves when X2V_PLUGIN_PATH is unset, as when the binary runs alone).
add_test(NAME plugin_environment_path COMMAND x2v_plugin_tests --gtest_filter=PluginEnvironment.*)
set_tests_properties(plugin_environment_path PROPERTIES
  ENVIRONMENT "X2V_PLUGIN_PATH=${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy;PLATFORM=toy"
  FAIL_REGULAR_EXPRESSION "SKIPPED|0 tests"
  LABELS plugin)

# The conformance suite and the models' golden fixtures again on the toy plugin's device (memory of its own,
# the cpu's kernels through host copies for what it lacks): the same fixtures prove any backend.
set(X2V_TOY_ENVIRONMENT "X2V_PLUGIN_PATH=${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy;X2V_TEST_PLATFORM=toy")
foreach(binary x2v_ops_tests x2v_models_tests)
  add_test(NAME toy.${binary} COMMAND ${binary})
  set_tests_properties(toy.${binary} PROPERTIES LABELS "toy;plugin" ENVIRONMENT "${X2V_TOY_ENVIRONMENT}")
endforeach()
add_test(NAME toy.test_platform_unknown COMMAND x2v_models_tests --gtest_filter=WanRope.RotatesPairsByTheWanAngles)
set_tests_properties(toy.test_platform_unknown PROPERTIES LABELS "toy;plugin" ENVIRONMENT "X2V_TEST_PLATFORM=quantum"
  PASS_REGULAR_EXPRESSION "X2V_TEST_PLATFORM 'quantum' names no registered platform \\(registered: cpu")

# The whole text-to-video path on the toy device writes the cpu's video: in f32 every 8-bit value of every
# frame within 1 (rounding of values equal within the f32 conformance tolerance).
set(X2V_TOY_OUT ${X2V_CLI_OUT}/toy_platform)
set(x2v_infer_frames "'$<TARGET_FILE:x2v>' infer --model_path '${X2V_TINY_MODEL}' --config_json '${X2V_TINY_CONFIG}' --prompt 'a cat walking on the beach at sunset' --seed 3")
add_test(NAME toy.infer_matches_cpu COMMAND bash -c "set -e; o='${X2V_TOY_OUT}'; rm -rf $o; mkdir -p $o; export DTYPE=FP32; PLATFORM=cpu ${x2v_infer_frames} --save_result_path $o/cpu.mp4 --save_frames $o/cpu; PLATFORM=toy X2V_PLUGIN_PATH='${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy' ${x2v_infer_frames} --save_result_path $o/toy.mp4 --save_frames $o/toy 2>$o/toy.log; grep -q 'toy:0 allocator peak' $o/toy.log; bash '${X2V_CLI_DIR}/compare_frames.sh' $o/cpu $o/toy 1")
set_tests_properties(toy.infer_matches_cpu PROPERTIES LABELS "toy;plugin;cli" FIXTURES_REQUIRED tiny_model)

# `x2v platforms` shows per device what is native and what falls back; a kernel neither the device nor the host
# has is one clear line.
add_test(NAME toy.platforms_shows_fallbacks COMMAND bash ${X2V_CLI_DIR}/expect_output.sh "host fallback (through copies): onednn_conv" $<TARGET_FILE:x2v> platforms)
# No Vulkan driver here: `x2v platforms` would probe lavapipe, whose LLVM leaks a few bytes that the sanitizer
# run reports (the driver is unloaded by then, so no suppression can name it).
set_tests_properties(toy.platforms_shows_fallbacks PROPERTIES LABELS "toy;plugin;cli"
  ENVIRONMENT "X2V_PLUGIN_PATH=${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy;VK_ICD_FILENAMES=/nonexistent/icd.json")
add_test(NAME toy.unknown_kernel COMMAND bash ${X2V_CLI_DIR}/expect_error.sh "unknown attention kernel 'radial_attn' on platform 'toy'"
         $<TARGET_FILE:x2v> dit --model_path ${X2V_DIT_FIXTURES}/model_original --config_json ${X2V_CLI_DIR}/unknown_kernel.json
         --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors --output ${X2V_TOY_OUT}_unknown_kernel)
set_tests_properties(toy.unknown_kernel PROPERTIES LABELS "toy;plugin;cli" ENVIRONMENT "X2V_PLUGIN_PATH=${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy;PLATFORM=toy")

# Bad plugins from the command line: one clear line, exit status 2.
add_test(NAME plugin.cli_abi_one_refused COMMAND bash ${X2V_CLI_DIR}/expect_error.sh
         "was built for platform ABI 1; this x2v speaks ABI 2: rebuild the plugin" $<TARGET_FILE:x2v> platforms)
set_tests_properties(plugin.cli_abi_one_refused PROPERTIES LABELS "plugin;cli"
  ENVIRONMENT "X2V_PLUGIN_PATH=$<TARGET_FILE:x2v_broken_abi_one_plugin>")
add_test(NAME plugin.cli_kernel_refusing_its_traits COMMAND bash ${X2V_CLI_DIR}/expect_error.sh
         "promise this call works: fix the kernel or what it declares" $<TARGET_FILE:x2v> dit
         --model_path ${X2V_DIT_FIXTURES}/model_original --config_json ${X2V_PLUGIN_TEST_SOURCE_DIR}/liar_rms_norm.json
         --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors --output ${X2V_TOY_OUT}_liar.safetensors)
set_tests_properties(plugin.cli_kernel_refusing_its_traits PROPERTIES LABELS "plugin;cli"
  ENVIRONMENT "X2V_PLUGIN_PATH=$<TARGET_FILE:x2v_broken_lying_traits_plugin>")
# Device offload on memory of the plugin's own: block offload (two blocks on the device at a time) writes the
# resident run's frames exactly. Not in the sanitizer run (label plugin): two toy runs take 5 minutes under
# ASan, and WanOffload's tests cover the same streaming there.
add_test(NAME toy.infer_offload_matches_resident COMMAND bash -c "set -e; o='${X2V_TOY_OUT}_offload'; rm -rf $o; mkdir -p $o; export DTYPE=FP32 PLATFORM=toy X2V_PLUGIN_PATH='${X2V_PLUGIN_TEST_OUTPUT_DIR}/toy'; sed 's/^}/, \"cpu_offload\": true, \"offload_granularity\": \"block\"}/' '${X2V_TINY_CONFIG}' > $o/config.json; ${x2v_infer_frames} --save_result_path $o/resident.mp4 --save_frames $o/resident; '$<TARGET_FILE:x2v>' infer --model_path '${X2V_TINY_MODEL}' --config_json $o/config.json --prompt 'a cat walking on the beach at sunset' --seed 3 --save_result_path $o/offload.mp4 --save_frames $o/offload 2>$o/log; grep -q 'block offload: 2 blocks stream through toy:0' $o/log; bash '${X2V_CLI_DIR}/compare_frames.sh' $o/resident $o/offload 0")
set_tests_properties(toy.infer_offload_matches_resident PROPERTIES LABELS "toy;cli" FIXTURES_REQUIRED tiny_model)
