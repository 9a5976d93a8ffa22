# CORAFT_SANITIZE=ON builds everything with AddressSanitizer and UndefinedBehaviorSanitizer.
if(CORAFT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# CORAFT_FUZZ=ON instruments everything for libFuzzer (coverage) with ASan and UBSan, any UB being fatal; the fuzz
# targets themselves link libFuzzer's main (tests/fuzz/CMakeLists.txt).
if(CORAFT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CORAFT_FUZZ needs clang (libFuzzer): configure with CXX=clang++ (see tests/fuzz/run.sh)")
  endif()
  if(NOT CORAFT_BUILD_TESTS)
    message(FATAL_ERROR "CORAFT_FUZZ needs CORAFT_BUILD_TESTS=ON (the targets live in tests/fuzz)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# clang 14 cannot compile coroutines under UBSan's function check ("Cannot represent a difference across sections",
# llvm-project issue 49689): leave that one check out (here, after -fsanitize=undefined, which would turn it on again).
if((CORAFT_SANITIZE OR CORAFT_FUZZ) AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-fno-sanitize=function)
endif()
