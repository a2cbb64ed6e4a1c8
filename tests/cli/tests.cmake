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
