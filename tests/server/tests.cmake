# x2v serve over loopback on the tiny models (server_check.sh says what each mode checks).
set(X2V_SERVER_DIR ${CMAKE_CURRENT_LIST_DIR})
set(x2v_server_env "X2V=$<TARGET_FILE:x2v>;MODEL=${X2V_TINY_MODEL};CONFIG=${X2V_TINY_CONFIG};OUT=${CMAKE_BINARY_DIR}/server_out;CLI_DIR=${X2V_CLI_DIR};I2V_MODEL=${X2V_TINY_I2V_MODEL};IMAGE=${CMAKE_SOURCE_DIR}/tests/fixtures/images/testsrc_150x100.png")
foreach(mode client fields cancel queue restart load auth events form page browser)
  add_test(NAME server.${mode} COMMAND bash ${X2V_SERVER_DIR}/server_check.sh ${mode})
  set_tests_properties(server.${mode} PROPERTIES LABELS server TIMEOUT 600 ENVIRONMENT "${x2v_server_env}"
                       FIXTURES_REQUIRED tiny_model)
endforeach()
set_property(TEST server.form APPEND PROPERTY FIXTURES_REQUIRED tiny_i2v_model)
