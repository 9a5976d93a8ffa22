# coraft_warnings(target): the project's warning set; errors when CORAFT_WERROR is on (CI turns it on).
function(coraft_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                         -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                         -Wimplicit-fallthrough
                         -Wno-missing-field-initializers)  # aggregates rely on default member initializers
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 misreads asio's coroutine frame allocator (operator new/delete pairs in awaitable_frame_base), and
    # reports std::variant moves inside asio channels as maybe-uninitialized: both are known false positives.
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete -Wno-maybe-uninitialized)
  endif()
  if(CORAFT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
