# Install rules and the Debian package (README: "Run it as a service").
#   cmake --install build --prefix P   P/bin: kvstore kvctl kvchat kvbench; P/share/doc/coraft: README.md,
#                                      ARCHITECTURE.md, copyright, changelog.gz; P/etc/coraft/cluster.json;
#                                      P/lib/systemd/system/coraft@.service. Under the prefix /usr the last two go to
#                                      /etc and /lib/systemd/system (cmake/packaging/install-service-files.cmake).
#   make deb                           cpack -G DEB in the build tree: build/coraft_<version>_<arch>.deb
# Not installed: the test tools (kvsim, kvchaos, kvcheck, authbench) and the test programs.
#
# Why CPack and not dpkg-buildpackage: CPack packs what these install rules install, from the build tree that
# `make build` already made, with the version from project(). dpkg-buildpackage would need a debian/ tree that
# repeats the build, the install layout and the version (debian/changelog), and would configure and build everything
# again from scratch (about six minutes on two cores) in a tree of its own. What debhelper would have generated, the
# files under cmake/packaging/ say by hand: the maintainer scripts (user, data directory, secrets, purge), the
# conffiles list, the copyright file and the changelog; dpkg-shlibdeps (CPACK_DEBIAN_PACKAGE_SHLIBDEPS) still finds
# the runtime libraries to depend on.
include(GNUInstallDirs)
set(coraft_packaging_dir ${CMAKE_CURRENT_LIST_DIR}/packaging)
set(coraft_staging_dir ${PROJECT_BINARY_DIR}/packaging)
set(coraft_maintainer "coraft maintainers <maintainers@users.noreply.r-seed-7dfaa016.example>")

install(TARGETS kvstore kvctl kvbench kvchat RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# A native package's changelog (lintian wants one, gzip -9n: no timestamp inside). Its date is the configure time,
# or SOURCE_DATE_EPOCH when set, for reproducible packages.
string(TIMESTAMP CORAFT_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(CORAFT_MAINTAINER "${coraft_maintainer}")
configure_file(${coraft_packaging_dir}/changelog.in ${coraft_staging_dir}/changelog @ONLY)
execute_process(COMMAND gzip -9nf ${coraft_staging_dir}/changelog COMMAND_ERROR_IS_FATAL ANY)
install(FILES README.md ARCHITECTURE.md ${coraft_packaging_dir}/copyright ${coraft_staging_dir}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

install(CODE "set(CORAFT_PACKAGING_DIR \"${coraft_packaging_dir}\")
set(CORAFT_STAGING_DIR \"${coraft_staging_dir}\")
set(CORAFT_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(CORAFT_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")")
install(SCRIPT ${coraft_packaging_dir}/install-service-files.cmake)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME coraft)
set(CPACK_PACKAGE_VENDOR "the coraft authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "replicated, strongly consistent key-value store on Raft")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "coraft keeps keys and values on a cluster of replicas that agree through\n"
       "Raft: every answer is linearizable while a majority of the replicas is up,\n"
       "and acknowledged writes survive crashes.\n"
       "\n"
       "This package holds the replica (kvstore, run as coraft@<id>.service), the\n"
       "command-line client (kvctl), a load generator (kvbench) and a terminal chat\n"
       "demo (kvchat).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${coraft_maintainer}")
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser for the maintainer scripts; init-system-helpers for deb-systemd-invoke in prerm.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${coraft_packaging_dir}/postinst ${coraft_packaging_dir}/prerm ${coraft_packaging_dir}/postrm
    ${coraft_packaging_dir}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
