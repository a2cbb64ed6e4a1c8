# A newcomer's mistakes (shared/docs/NEWCOMER_REPORT.md): every config key accounted for, the settings shown
# before any work, every value checked before weights load, seeds, output paths, command-line typos and
# names from files printed safely. Included from tests.cmake (uses its tiny model and helpers).
set(X2V_NEWCOMER_CONFIGS ${X2V_CLI_DIR}/configs)

function(x2v_infer_warning name text config)
  add_test(NAME cli.${name} COMMAND bash ${X2V_CLI_DIR}/expect_warning.sh ${text} $<TARGET_FILE:x2v> infer
           --model_path ${X2V_TINY_MODEL} --config_json ${X2V_NEWCOMER_CONFIGS}/${config} --prompt cat
           --save_result_path ${X2V_CLI_OUT}/${name}.mp4 ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)
endfunction()
# An error found before any model stage starts, with nothing left at the output path.
function(x2v_infer_early_error name text)
  x2v_cli_error(${name} ${text} infer --model_path ${X2V_TINY_MODEL} ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES FIXTURES_REQUIRED tiny_model)
  set_property(TEST cli.${name} APPEND PROPERTY ENVIRONMENT "X2V_EXPECT_BEFORE_WORK=1")
endfunction()
function(x2v_config_error name text config)
  x2v_infer_early_error(${name} ${text} --config_json ${X2V_NEWCOMER_CONFIGS}/${config} --prompt cat
                        --save_result_path ${X2V_CLI_OUT}/${name}.mp4 ${ARGN})
endfunction()

# 1. Config keys: a typo names the key it resembles, LightX2V keys x2v does not implement say what happens
#    instead, repeated keys are named; --strict (or strict_config) makes them errors.
x2v_infer_warning(config_typo_did_you_mean "unknown config key 'infer_step' in" typo_key.json)
x2v_infer_warning(config_typo_names_nearest "did you mean 'infer_steps'?" typo_key.json)
x2v_infer_warning(config_unimplemented_key "x2v ignores use_taylor_cache = true (not implemented): every step runs the whole DiT" use_taylor_cache.json)
x2v_infer_warning(config_duplicate_key "config key 'infer_steps' is written more than once" duplicate_key.json)
x2v_infer_warning(config_cpu_offload_on_cpu "cpu_offload: cpu computes in host memory, so the DiT's weights stay" cpu_offload.json)
x2v_infer_warning(config_distill_steps_replaced "infer_steps 2 is replaced by the 4 steps of denoising_step_list" distill_steps.json --model_cls wan2.1_distill)
x2v_config_error(config_strict_flag "unknown config key 'infer_step' in" typo_key.json --strict)
x2v_config_error(config_strict_key "did you mean 'target_width'?" strict_typo.json)
x2v_config_error(config_strict_unimplemented "x2v ignores use_taylor_cache" use_taylor_cache.json --strict)
# The same accounting in the stage commands.
add_test(NAME cli.config_keys_in_dit COMMAND bash ${X2V_CLI_DIR}/expect_warning.sh "did you mean 'infer_steps'?"
         $<TARGET_FILE:x2v> dit --model_path ${X2V_DIT_FIXTURES}/model_original --config_json
         ${X2V_NEWCOMER_CONFIGS}/typo_key.json --inputs ${X2V_DIT_FIXTURES}/forward_inputs.safetensors
         --output ${X2V_CLI_OUT}/config_keys_in_dit.safetensors)
set_tests_properties(cli.config_keys_in_dit PROPERTIES LABELS cli)

# 2. The effective settings and the cost estimate are printed before the first stage starts, seed with its origin.
add_test(NAME cli.settings_before_work COMMAND bash ${X2V_CLI_DIR}/expect_warning.sh ""
         $<TARGET_FILE:x2v> infer --model_path ${X2V_TINY_MODEL} --config_json ${X2V_NEWCOMER_CONFIGS}/small.json
         --prompt cat --seed 11 --save_result_path ${X2V_CLI_OUT}/settings_before_work.mp4)
set_tests_properties(cli.settings_before_work PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model ENVIRONMENT
                     "X2V_EXPECT_STDERR_ORDER=seed 11 [--seed]|stage text encoder: started")
add_test(NAME cli.settings_show_cost COMMAND bash ${X2V_CLI_DIR}/expect_warning.sh ""
         $<TARGET_FILE:x2v> infer --model_path ${X2V_TINY_MODEL} --config_json ${X2V_NEWCOMER_CONFIGS}/small.json
         --prompt cat --save_result_path ${X2V_CLI_OUT}/settings_show_cost.mp4)
set_tests_properties(cli.settings_show_cost PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model ENVIRONMENT
                     "X2V_EXPECT_STDERR_ORDER=2 DiT evaluations of 12 tokens|stage dit: started")
# Without --config_json the defaults are named (and their size) before the run fails on its .avi path.
add_test(NAME cli.settings_defaults_named COMMAND bash -c "'$<TARGET_FILE:x2v>' infer --model_path '${X2V_TINY_MODEL}' --prompt cat --save_result_path '${X2V_CLI_OUT}/settings_defaults_named.avi' 2>&1 | grep -q \"no --config_json: LightX2V's defaults apply (81 frames of 480x832, 50 steps with CFG)\"")
set_tests_properties(cli.settings_defaults_named PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)

# 3. Every value, environment variable, output path and size is checked before weights load.
x2v_config_error(early_vae_dtype "vae_dtype 'fp16' is not fp32 or bf16" vae_fp16.json)
x2v_config_error(early_tiling_type "config key 'use_tiling_vae' is an integer" tiling_int.json)
x2v_config_error(early_unknown_kernel "unknown attention kernel 'radial_attn'" radial_attn.json)
x2v_config_error(early_quant_scheme "dit_quant_scheme 'fp4-mxfp4' is not supported" fp4_scheme.json)
x2v_config_error(early_quantized_without_scheme "dit_quantized is true but dit_quant_scheme" quantized_no_scheme.json)
x2v_config_error(early_zero_steps "infer_steps 0 must be at least 1" zero_steps.json)
x2v_config_error(early_zero_text_len "text_len 0 is not in 1..512" zero_text_len.json)
x2v_config_error(early_dtype_fp8 "for fp8 or int8 weights set dit_quant_scheme" small.json)
set_property(TEST cli.early_dtype_fp8 APPEND PROPERTY ENVIRONMENT "DTYPE=FP8")
x2v_config_error(early_huge_size "need at least" huge_size.json)
x2v_config_error(early_huge_length "lower target_height, target_width or target_video_length" huge_length.json)
x2v_infer_early_error(early_video_path_is_folder "is a folder" --config_json
                      ${X2V_NEWCOMER_CONFIGS}/small.json --prompt cat --save_result_path ${X2V_CLI_OUT})
x2v_infer_early_error(early_video_path_avi "does not end in .mp4" --config_json ${X2V_NEWCOMER_CONFIGS}/small.json
                      --prompt cat --save_result_path ${X2V_CLI_OUT}/early_video_path_avi.avi)
x2v_infer_early_error(early_frames_path_is_file "exists and is not a folder" --config_json
                      ${X2V_NEWCOMER_CONFIGS}/small.json --prompt cat --save_result_path
                      ${X2V_CLI_OUT}/early_frames_path_is_file.mp4 --save_frames ${X2V_NEWCOMER_CONFIGS}/small.json)

# 5. Seeds: negative or out of range is an error; the largest one runs.
x2v_config_error(seed_negative_flag "--seed -1 is not an integer in 0..18446744073709551615" small.json --seed -1)
x2v_config_error(seed_too_large "--seed 18446744073709551616 is not an integer" small.json --seed 18446744073709551616)
x2v_config_error(seed_negative_in_config "seed -5 is negative" negative_seed.json)
add_test(NAME cli.seed_largest_runs COMMAND bash ${X2V_CLI_DIR}/expect_warning.sh ""
         $<TARGET_FILE:x2v> infer --model_path ${X2V_TINY_MODEL} --config_json ${X2V_NEWCOMER_CONFIGS}/small.json
         --prompt cat --seed 18446744073709551615 --save_result_path ${X2V_CLI_OUT}/seed_largest_runs.mp4)
set_tests_properties(cli.seed_largest_runs PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model ENVIRONMENT
                     "X2V_EXPECT_STDERR_ORDER=seed 18446744073709551615 [--seed]|wrote")

# 6. A prompt longer than text_len says it was cut.
add_test(NAME cli.prompt_truncated COMMAND bash ${X2V_CLI_DIR}/expect_warning.sh
         "keeps the first 7 and EOS, the rest is cut" $<TARGET_FILE:x2v> infer --model_path ${X2V_TINY_MODEL}
         --config_json ${X2V_NEWCOMER_CONFIGS}/short_text_len.json --save_result_path ${X2V_CLI_OUT}/prompt_truncated.mp4
         --prompt "a very long prompt about a cat walking slowly along the sunny beach at dusk")
set_tests_properties(cli.prompt_truncated PROPERTIES LABELS cli FIXTURES_REQUIRED tiny_model)

# 7. Command-line typos name the nearest command or option; LightX2V names get their x2v spelling;
#    PLATFORM names LightX2V's backends and ignores case; the stage commands' --help say what they take.
x2v_cli_error(typo_subcommand "did you mean 'infer'?" infr --model_path x)
x2v_cli_error(typo_option "did you mean --model_path?" infer
              --model-path x --prompt cat --save_result_path ${X2V_CLI_OUT}/typo_option.mp4)
x2v_cli_error(lightx2v_old_flag "LightX2V's old name" infer --model_path x --prompt cat
              --save_video_path ${X2V_CLI_OUT}/lightx2v_old_flag.mp4)
x2v_cli_error(platform_not_built "this build of x2v has no cuda backend" platforms)
set_property(TEST cli.platform_not_built APPEND PROPERTY ENVIRONMENT "PLATFORM=cuda")
x2v_cli_output(platform_any_case "cpu" platforms)
set_property(TEST cli.platform_any_case APPEND PROPERTY ENVIRONMENT "PLATFORM=CPU")
x2v_cli_output(decode_help_model_folder "Wan model directory (published or diffusers layout" decode --help)
x2v_cli_output(help_names_environment "X2V_MEMORY_LIMIT" infer --help)
x2v_cli_output(help_command "Generate a video" help)

# 8. Names read from files are printed with control characters escaped.
add_test(NAME cli.inspect_escapes_names COMMAND bash ${X2V_CLI_DIR}/inspect_escape.sh $<TARGET_FILE:x2v> ${X2V_CLI_OUT})
set_tests_properties(cli.inspect_escapes_names PROPERTIES LABELS cli)
x2v_config_error(early_missing_lora "lora_configs: '/nonexistent/lora.safetensors' is not a file" missing_lora.json)
x2v_config_error(early_missing_quantized_ckpt "dit_quantized_ckpt '/nonexistent/int8' does not exist" missing_quantized_ckpt.json)
x2v_config_error(early_bad_step_list "denoising_step_list" bad_step_list.json)
