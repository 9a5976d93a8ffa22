# Runs at install time (cmake --install, or CPack staging the package), the only time the prefix is known; included
# from the install script that cmake/Packaging.cmake sets up, which defines CORAFT_PACKAGING_DIR, CORAFT_STAGING_DIR,
# CORAFT_BINDIR and CORAFT_DOCDIR. Installs the example cluster file and the systemd unit where the prefix puts them:
#   prefix /usr (the package)  /etc/coraft/cluster.json, /lib/systemd/system/coraft@.service (Debian's layout)
#   any other prefix P         P/etc/coraft/cluster.json, P/lib/systemd/system/coraft@.service
# and writes into the unit the paths of the kvstore and the cluster file installed with it.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(root "")
else()
  set(root "${CMAKE_INSTALL_PREFIX}")
endif()
set(KVSTORE "${CMAKE_INSTALL_PREFIX}/${CORAFT_BINDIR}/kvstore")
set(CONFIG "${root}/etc/coraft/cluster.json")
set(DOCDIR "${CMAKE_INSTALL_PREFIX}/${CORAFT_DOCDIR}")
# One staging folder per destination: installs into two prefixes at once (a test and `make deb`) must not share it.
string(MD5 destination "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(unit "${CORAFT_STAGING_DIR}/${destination}/coraft@.service")
configure_file("${CORAFT_PACKAGING_DIR}/coraft@.service.in" "${unit}" @ONLY)
file(INSTALL DESTINATION "${root}/lib/systemd/system" TYPE FILE FILES "${unit}")
file(INSTALL DESTINATION "${root}/etc/coraft" TYPE FILE FILES "${CORAFT_PACKAGING_DIR}/cluster.json")
