# Distributed inference under mpirun on the tiny model (OpenMPI, oversubscribed on CI's two cores): CFG
# parallel, Ulysses, both, and the VAE in patches each give the single-process result; bad configurations are
# named (by every rank that gets that far: mpirun ends the job when the first exits); a rank failing mid-run
# ends the job. Included from tests/CMakeLists.txt.
# x2v never links MPI, and a launcher-started x2v whose plugin is missing says what to install.
add_test(NAME parallel.x2v_does_not_link_mpi COMMAND bash -c "! ldd '$<TARGET_FILE:x2v>' | grep -i mpi")
set_tests_properties(parallel.x2v_does_not_link_mpi PROPERTIES LABELS parallel)
add_test(NAME parallel.missing_plugin COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/expect_error.sh
         "its MPI plugin /nonexistent/libx2v_mpi.so is missing" $<TARGET_FILE:x2v> platforms)
set_tests_properties(parallel.missing_plugin PROPERTIES LABELS parallel
                     ENVIRONMENT "OMPI_COMM_WORLD_SIZE=2;OMPI_COMM_WORLD_RANK=0;X2V_COMM_PLUGIN=/nonexistent/libx2v_mpi.so")

if(NOT X2V_WITH_MPI OR NOT MPIEXEC_EXECUTABLE)
  message(STATUS "x2v: no MPI, so the parallel tests are not built (apt install libopenmpi-dev openmpi-bin)")
  return()
endif()

set(X2V_PARALLEL_DIR ${CMAKE_CURRENT_LIST_DIR})
add_executable(compare_tensors ${CMAKE_CURRENT_LIST_DIR}/../tools/compare_tensors.cpp)
target_link_libraries(compare_tensors PRIVATE x2v_core)

set(X2V_PARALLEL_OUT ${CMAKE_BINARY_DIR}/parallel_out)
set(x2v_parallel_env "X2V=$<TARGET_FILE:x2v>;COMPARE=$<TARGET_FILE:compare_tensors>;MODEL=${X2V_TINY_MODEL};CONFIG=${X2V_TINY_CONFIG};OUT=${X2V_PARALLEL_OUT};MPIRUN=${MPIEXEC_EXECUTABLE};CLI_DIR=${X2V_CLI_DIR}")
function(x2v_parallel_test name)
  add_test(NAME parallel.${name} COMMAND bash ${X2V_PARALLEL_DIR}/parallel_check.sh ${ARGN})
  set_tests_properties(parallel.${name} PROPERTIES LABELS parallel TIMEOUT 300 ENVIRONMENT "${x2v_parallel_env}"
                       FIXTURES_REQUIRED "tiny_model;parallel_reference" RESOURCE_LOCK mpi)
endfunction()

add_test(NAME parallel.reference COMMAND bash ${X2V_PARALLEL_DIR}/parallel_check.sh reference)
set_tests_properties(parallel.reference PROPERTIES LABELS parallel ENVIRONMENT "${x2v_parallel_env}"
                     FIXTURES_REQUIRED tiny_model FIXTURES_SETUP parallel_reference)

x2v_parallel_test(sample_cfg2 sample sample_cfg2 2 "{\"cfg_p_size\": 2}")
x2v_parallel_test(sample_ulysses2 sample sample_ulysses2 2 "{\"seq_p_size\": 2, \"seq_p_attn_type\": \"ulysses\"}")
x2v_parallel_test(sample_cfg2_ulysses2 sample sample_cfg2_ulysses2 4 "{\"cfg_p_size\": 2, \"seq_p_size\": 2}")
x2v_parallel_test(decode_patches2 decode decode_patches2 2 "{\"seq_p_size\": 2}")
x2v_parallel_test(decode_patches4 decode decode_patches4 4 "{\"cfg_p_size\": 2, \"seq_p_size\": 2}")
x2v_parallel_test(decode_patches4_unequal decode decode_patches4_unequal 4 "{\"cfg_p_size\": 2, \"seq_p_size\": 2}" wide_)
x2v_parallel_test(infer_cfg2 infer infer_cfg2 2 "{\"cfg_p_size\": 2}")
x2v_parallel_test(infer_ulysses2 infer infer_ulysses2 2 "{\"seq_p_size\": 2}")
x2v_parallel_test(infer_cfg2_ulysses2 infer infer_cfg2_ulysses2 4 "{\"cfg_p_size\": 2, \"seq_p_size\": 2}")
x2v_parallel_test(error_rank_count error error_rank_count 2 "{\"seq_p_size\": 4}" "= 4 ranks but x2v runs on 2")
x2v_parallel_test(error_cfg_size error error_cfg_size 3 "{\"cfg_p_size\": 3}" "so it is 1 or 2")
x2v_parallel_test(error_heads error error_heads 4 "{\"seq_p_size\": 4}" "does not divide the model's 2 attention heads")
x2v_parallel_test(error_ring error error_ring 2 "{\"seq_p_size\": 2, \"seq_p_attn_type\": \"ring\"}" "is not built in x2v; use \"ulysses\"")
x2v_parallel_test(error_no_section error error_no_section 2 "false" "has no \"parallel\" section")
x2v_parallel_test(fail_mid_run fail fail_mid_run 2 "{\"cfg_p_size\": 2}" "1:1")

# The same on devices whose memory the host cannot read: the collectives stage tensors through host copies.
x2v_parallel_test(toy_cfg2_ulysses2 device toy_cfg2_ulysses2 4 "{\"cfg_p_size\": 2, \"seq_p_size\": 2}")
set_property(TEST parallel.toy_cfg2_ulysses2 APPEND PROPERTY ENVIRONMENT
             "PLATFORM=toy;X2V_PLUGIN_PATH=${CMAKE_BINARY_DIR}/plugins/toy")
if(X2V_WITH_VULKAN)
  x2v_parallel_test(vulkan_ulysses2 device vulkan_ulysses2 2 "{\"seq_p_size\": 2}")
  set_property(TEST parallel.vulkan_ulysses2 APPEND PROPERTY ENVIRONMENT
               "PLATFORM=vulkan;VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json;X2V_VULKAN_VALIDATION=1")
endif()

# Wan2.2 TI2V-5B image to video (its first frame held, per-token timesteps split with the tokens) and A14B (two
# experts, one at a time), on 4 ranks: the single-process frames.
set(x2v_parallel_image ${CMAKE_SOURCE_DIR}/tests/fixtures/images/testsrc_150x100.png)
x2v_parallel_test(ti2v_i2v_cfg2_ulysses2 same ti2v_i2v_cfg2_ulysses2 4 "{\"cfg_p_size\": 2, \"seq_p_size\": 2}"
                  --model_cls wan2.2 --task i2v --model_path ${X2V_TINY_TI2V_MODEL} --image_path ${x2v_parallel_image})
set_property(TEST parallel.ti2v_i2v_cfg2_ulysses2 APPEND PROPERTY FIXTURES_REQUIRED tiny_ti2v_model)
x2v_parallel_test(moe_t2v_cfg2_ulysses2 same moe_t2v_cfg2_ulysses2 4 "{\"cfg_p_size\": 2, \"seq_p_size\": 2}"
                  --model_cls wan2.2_moe --task t2v --model_path ${X2V_TINY_MOE_MODEL})
set_property(TEST parallel.moe_t2v_cfg2_ulysses2 APPEND PROPERTY FIXTURES_REQUIRED tiny_moe_model)
