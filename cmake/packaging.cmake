# CPack: `cpack -G DEB` in a build configured with -DCMAKE_INSTALL_PREFIX=/usr makes three Debian packages,
#   libredlock0      the shared library (named after its SONAME, libredlock.so.0, as Debian's policy asks)
#   libredlock-dev   header, libredlock.so link, pkg-config file and CMake package
#   redlock-tools    the redlock command and its man page
# and `cpack -G TGZ` one archive of everything. Dependencies on other packages come from dpkg-shlibdeps (the
# libraries the binaries really link: libfmt9, libssl3, libstdc++6, libc6...); those between ours are exact versions.
set(CPACK_PACKAGE_NAME "libredlock")
set(CPACK_PACKAGE_VENDOR "libredlock")
set(CPACK_PACKAGE_CONTACT "libredlock developers <maintainers@libredlock.invalid>")  # .invalid: no real address yet
# CPackDeb puts any summary but CPack's placeholder before each package's own summary line: keep the placeholder.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)  # the Debian revision: 0.5.0-1
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_SET_DESTDIR ON)  # install with DESTDIR, so the prefix baked into redlock.pc is the real one
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_IGNORE_FILES "/build[^/]*/" "/\\\\.git/" "node_modules/")
set(CPACK_COMPONENTS_ALL lib dev tools)
if(NOT REDLOCK_BUILD_TOOLS)
  set(CPACK_COMPONENTS_ALL lib dev)
endif()

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Our own library, when dpkg-shlibdeps meets it in the tools: it is in this build, not yet in any package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${PROJECT_BINARY_DIR}")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "")
# A shlibs file (only the library package has a SONAME), so that packages built on ours get their dependency from
# dpkg-shlibdeps; CPack then also runs ldconfig from the library package's postinst and postrm.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(_redlock_lib_pkg "libredlock${PROJECT_VERSION_MAJOR}")
set(_redlock_exact "${_redlock_lib_pkg} (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME "${_redlock_lib_pkg}")
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Descriptions: the first line is the package's summary; CPackDeb indents the rest.
set(CPACK_DEBIAN_LIB_DESCRIPTION "Redis distributed locks with redis-py's semantics, C ABI
libredlock takes and releases locks on Redis (one server, Sentinel, Redis
Cluster, or Redlock over independent masters), wire-compatible with redis-py's
Lock.
This package holds the shared library.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME "libredlock-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_redlock_exact}")
set(CPACK_DEBIAN_DEV_DESCRIPTION "Redis distributed locks: development files
The C header (redlock/redlock.h), the C++ wrapper (redlock/redlock.hpp),
the libredlock.so link, the pkg-config file (redlock.pc) and the CMake
package (find_package(redlock), target redlock::redlock).")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME "redlock-tools")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${_redlock_exact}")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "redlock command: flock(1) for a Redis lock
Runs a command while holding a lock that every machine sharing the Redis
server sees (renewed while it runs, released when it exits), and shows,
waits for or recovers locks: redlock status, wait and release.")

set(CPACK_ARCHIVE_COMPONENT_INSTALL OFF)  # TGZ: one archive with everything
include(CPack)
