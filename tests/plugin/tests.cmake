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
