# Writes OUTPUT from TEMPLATE with VERSION and the commit SOURCE_DIR is checked out at: 12 hex digits, "-dirty" when
# tracked files differ from it, "unknown" when SOURCE_DIR is not the top of a git work tree (a source tarball, even
# one unpacked inside some other repository). configure_file leaves OUTPUT untouched when nothing changed.
#   cmake -DVERSION=0.1.0 -DSOURCE_DIR=... -DTEMPLATE=build_info.cpp.in -DOUTPUT=build_info.cpp -P write_build_info.cmake
set(COMMIT unknown)
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} rev-parse --show-toplevel --short=12 HEAD
                  OUTPUT_VARIABLE lines RESULT_VARIABLE status ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(status EQUAL 0)
    string(REPLACE "\n" ";" lines "${lines}")
    list(GET lines 0 top)
    list(GET lines 1 head)
    file(REAL_PATH "${SOURCE_DIR}" source)
    file(REAL_PATH "${top}" top)
    if(top STREQUAL source)
      set(COMMIT ${head})
      # --no-optional-locks: do not refresh the index, which could collide with the developer's own git commands.
      execute_process(COMMAND ${GIT_EXECUTABLE} --no-optional-locks -C ${SOURCE_DIR} status --porcelain
                              --untracked-files=no
                      OUTPUT_VARIABLE changes RESULT_VARIABLE status ERROR_QUIET)
      if(NOT status EQUAL 0 OR NOT changes STREQUAL "")
        string(APPEND COMMIT "-dirty")
      endif()
    endif()
  endif()
endif()
configure_file(${TEMPLATE} ${OUTPUT} @ONLY)
