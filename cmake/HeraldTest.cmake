# Sanitizer reports must fail a test even when the process exits 0 (Criterion 2.4.1 does
# on a LeakSanitizer report), so every test carries this FAIL_REGULAR_EXPRESSION.
set(HERALD_SANITIZER_FAIL_REGEX
    "ERROR: AddressSanitizer;ERROR: LeakSanitizer;runtime error:;WARNING: ThreadSanitizer")

function(herald_add_criterion_test name src)
  add_executable(${name} ${src} ${ARGN})
  target_link_libraries(${name} PRIVATE herald ${CRITERION_LIB})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  add_test(NAME ${name} COMMAND ${name} --jobs 2)
  set_tests_properties(${name} PROPERTIES
    FAIL_REGULAR_EXPRESSION "${HERALD_SANITIZER_FAIL_REGEX}"
    ENVIRONMENT "HERALD_SOURCE_DIR=${PROJECT_SOURCE_DIR};HERALD_BUILD_DIR=${PROJECT_BINARY_DIR}"
    TIMEOUT 300)
endfunction()

function(herald_add_script_test name script)
  add_test(NAME ${name} COMMAND bash ${script})
  set_tests_properties(${name} PROPERTIES
    FAIL_REGULAR_EXPRESSION "${HERALD_SANITIZER_FAIL_REGEX}"
    ENVIRONMENT "HERALD_SOURCE_DIR=${PROJECT_SOURCE_DIR};HERALD_BUILD_DIR=${PROJECT_BINARY_DIR}"
    RUN_SERIAL TRUE
    TIMEOUT 600)
endfunction()
