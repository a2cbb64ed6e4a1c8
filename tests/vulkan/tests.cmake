# The vulkan platform on Mesa's lavapipe (pinned with VK_ICD_FILENAMES, so a GPU in the machine does not change
# what CI proves), under the Khronos validation layer: any validation error or warning fails the test.
if(NOT X2V_WITH_VULKAN)
  return()
endif()
set(X2V_LAVAPIPE_ICD /usr/share/vulkan/icd.d/lvp_icd.x86_64.json)
set(X2V_VULKAN_ENVIRONMENT "VK_ICD_FILENAMES=${X2V_LAVAPIPE_ICD};X2V_VULKAN_VALIDATION=1;X2V_TEST_PLATFORM=vulkan")
foreach(binary x2v_ops_tests x2v_models_tests)
  add_test(NAME vulkan.${binary} COMMAND ${binary})
  set_tests_properties(vulkan.${binary} PROPERTIES LABELS vulkan ENVIRONMENT "${X2V_VULKAN_ENVIRONMENT}")
  # The same through a staging buffer, the path of GPUs whose memory the host cannot map.
  add_test(NAME vulkan_staging.${binary} COMMAND ${binary})
  set_tests_properties(vulkan_staging.${binary} PROPERTIES LABELS vulkan
                       ENVIRONMENT "${X2V_VULKAN_ENVIRONMENT};X2V_VULKAN_STAGING=1")
endforeach()

# The whole text-to-video path on lavapipe writes the cpu's video (f32: every value within 1/255).
set(X2V_VULKAN_OUT ${X2V_CLI_OUT}/vulkan_platform)
add_test(NAME vulkan.infer_matches_cpu COMMAND bash -c "set -e; o='${X2V_VULKAN_OUT}'; rm -rf $o; mkdir -p $o; export DTYPE=FP32; PLATFORM=cpu ${x2v_infer_frames} --save_result_path $o/cpu.mp4 --save_frames $o/cpu; PLATFORM=vulkan ${x2v_infer_frames} --save_result_path $o/vulkan.mp4 --save_frames $o/vulkan 2>$o/vulkan.log; grep -q 'vulkan:0 allocator peak' $o/vulkan.log; bash '${X2V_CLI_DIR}/compare_frames.sh' $o/cpu $o/vulkan 1")
set_tests_properties(vulkan.infer_matches_cpu PROPERTIES LABELS "vulkan;cli" FIXTURES_REQUIRED tiny_model
                     ENVIRONMENT "VK_ICD_FILENAMES=${X2V_LAVAPIPE_ICD};X2V_VULKAN_VALIDATION=1")

# Bad input: one clear line, exit status 2.
add_test(NAME vulkan.no_driver COMMAND bash ${X2V_CLI_DIR}/expect_error.sh
         "PLATFORM 'vulkan' is registered but not available on this machine" $<TARGET_FILE:x2v> dit
         --model_path ${X2V_DIT_FIXTURES}/model_original --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors
         --output ${X2V_VULKAN_OUT}_no_driver.safetensors)
set_tests_properties(vulkan.no_driver PROPERTIES LABELS "vulkan;cli"
                     ENVIRONMENT "VK_ICD_FILENAMES=/nonexistent/icd.json;PLATFORM=vulkan")
add_test(NAME vulkan.device_index_out_of_range COMMAND bash ${X2V_CLI_DIR}/expect_error.sh
         "X2V_VULKAN_DEVICE '7' is not a device index; this machine has 1 Vulkan device" $<TARGET_FILE:x2v> dit
         --model_path ${X2V_DIT_FIXTURES}/model_original --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors
         --output ${X2V_VULKAN_OUT}_bad_index.safetensors)
set_tests_properties(vulkan.device_index_out_of_range PROPERTIES LABELS "vulkan;cli"
                     ENVIRONMENT "VK_ICD_FILENAMES=${X2V_LAVAPIPE_ICD};PLATFORM=vulkan;X2V_VULKAN_DEVICE=7")

add_test(NAME vulkan.bad_storage_range COMMAND bash ${X2V_CLI_DIR}/expect_error.sh
         "X2V_VULKAN_STORAGE_RANGE '12ab' is not a byte count of at least 4096" $<TARGET_FILE:x2v> dit
         --model_path ${X2V_DIT_FIXTURES}/model_original --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors
         --output ${X2V_VULKAN_OUT}_bad_range.safetensors)
set_tests_properties(vulkan.bad_storage_range PROPERTIES LABELS "vulkan;cli"
                     ENVIRONMENT "VK_ICD_FILENAMES=${X2V_LAVAPIPE_ICD};PLATFORM=vulkan;X2V_VULKAN_STORAGE_RANGE=12ab")

# The platform's own limits (tests/vulkan/test_vulkan.cpp), under the validation layer.
add_executable(x2v_vulkan_tests ${CMAKE_CURRENT_LIST_DIR}/test_vulkan.cpp)
target_link_libraries(x2v_vulkan_tests PRIVATE x2v_core GTest::gtest GTest::gtest_main)
add_test(NAME vulkan.x2v_vulkan_tests COMMAND x2v_vulkan_tests)
set_tests_properties(vulkan.x2v_vulkan_tests PROPERTIES LABELS vulkan
                     ENVIRONMENT "VK_ICD_FILENAMES=${X2V_LAVAPIPE_ICD};X2V_VULKAN_VALIDATION=1")

# The W8A8 matmul without integer dot products (mm_int8 rather than mm_int8_dot), as on devices without them.
add_test(NAME vulkan_no_integer_dot.x2v_ops_tests COMMAND x2v_ops_tests --gtest_filter=MmQuant*)
set_tests_properties(vulkan_no_integer_dot.x2v_ops_tests PROPERTIES LABELS vulkan
                     ENVIRONMENT "${X2V_VULKAN_ENVIRONMENT};X2V_VULKAN_INTEGER_DOT=0")

# A 64 KiB storage buffer range: tensors of a few hundred KiB run on the device in pieces.
add_test(NAME vulkan_small_range.x2v_vulkan_tests COMMAND x2v_vulkan_tests --gtest_filter=*InPieces*)
set_tests_properties(vulkan_small_range.x2v_vulkan_tests PROPERTIES LABELS vulkan
                     ENVIRONMENT "${X2V_VULKAN_ENVIRONMENT};X2V_VULKAN_STORAGE_RANGE=65536")
add_test(NAME vulkan_staging.x2v_vulkan_tests COMMAND x2v_vulkan_tests)
set_tests_properties(vulkan_staging.x2v_vulkan_tests PROPERTIES LABELS vulkan
                     ENVIRONMENT "VK_ICD_FILENAMES=${X2V_LAVAPIPE_ICD};X2V_VULKAN_VALIDATION=1;X2V_VULKAN_STAGING=1")
