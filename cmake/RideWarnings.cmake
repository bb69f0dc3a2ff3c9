# Warnings and sanitizers apply to RIDE's own targets only (ride_target_defaults),
# never to packaged dependencies.
set(RIDE_C_WARNINGS -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wformat=2 -Wvla)
set(RIDE_CXX_WARNINGS -Wall -Wextra -Wshadow -Wpointer-arith -Wformat=2)
if(RIDE_WERROR)
  list(APPEND RIDE_C_WARNINGS -Werror)
  list(APPEND RIDE_CXX_WARNINGS -Werror)
endif()

set(RIDE_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)

if(RIDE_SANITIZE)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${RIDE_SANITIZE_FLAGS}>")
  add_link_options(${RIDE_SANITIZE_FLAGS})
endif()

function(ride_target_defaults target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:${RIDE_C_WARNINGS}>
    $<$<COMPILE_LANGUAGE:CXX>:${RIDE_CXX_WARNINGS}>)
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
endfunction()

# A fuzzing build instruments all of RIDE for coverage; the fuzz_* executables
# then link libFuzzer's main (tests/fuzz/CMakeLists.txt).
if(RIDE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "RIDE_FUZZ needs clang: configure with CC=clang CXX=clang++")
  endif()
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>")
endif()
