# Install rules (SMALLOC_INSTALL, included by the top-level CMakeLists.txt):
#   lib/      libsmalloc.so.MAJOR.MINOR.PATCH, its SONAME link and libsmalloc.so,
#             libsmalloc.a
#   include/  smalloc.h, smalloc_version.h (generated)
#   lib/cmake/smalloc/  smallocConfig.cmake, smallocConfigVersion.cmake and the
#             exported targets smalloc::smalloc, smalloc::smalloc_static
#   lib/pkgconfig/smalloc.pc, bin/smalloc-run
#   share/doc/smalloc/LICENSE (MIT), share/man/man3/smalloc.3,
#             share/man/man1/smalloc-run.1
# smalloc.pc, smalloc-run and the man pages name absolute paths, so they are written at
# install time (SmallocInstallConfigure.cmake), for the prefix actually used:
# `cmake --install build --prefix /opt/x` gets a launcher that preloads
# /opt/x/lib/libsmalloc.so.0, not the configure-time CMAKE_INSTALL_PREFIX.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SMALLOC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/smalloc)

install(TARGETS smalloc smalloc_static EXPORT smallocTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES
  ${PROJECT_SOURCE_DIR}/include/smalloc.h
  ${PROJECT_BINARY_DIR}/include/smalloc_version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# CMake package: find_package(smalloc) -> smalloc::smalloc (shared) and
# smalloc::smalloc_static. The ABI promise is the SONAME's: same major version.
install(EXPORT smallocTargets NAMESPACE smalloc::
  DESTINATION ${SMALLOC_INSTALL_CMAKEDIR} FILE smallocTargets.cmake)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/smallocConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/smallocConfig.cmake
  INSTALL_DESTINATION ${SMALLOC_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/smallocConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/smallocConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/smallocConfigVersion.cmake
  DESTINATION ${SMALLOC_INSTALL_CMAKEDIR})

# smalloc.pc, smalloc-run, man pages: configured when `cmake --install` runs. The
# values below are fixed now; the prefix is read at install time.
install(CODE "
  set(SMALLOC_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(SMALLOC_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
  set(SMALLOC_VERSION \"${PROJECT_VERSION}\")
  set(SMALLOC_VERSION_MAJOR \"${PROJECT_VERSION_MAJOR}\")
  set(SMALLOC_LIBDIR_REL \"${CMAKE_INSTALL_LIBDIR}\")
  set(SMALLOC_INCLUDEDIR_REL \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(SMALLOC_BINDIR_REL \"${CMAKE_INSTALL_BINDIR}\")
  set(SMALLOC_MANDIR_REL \"${CMAKE_INSTALL_MANDIR}\")
  set(SMALLOC_DOCDIR_REL \"${CMAKE_INSTALL_DOCDIR}\")
  set(SMALLOC_DL_LIBS \"${CMAKE_DL_LIBS}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/SmallocInstallConfigure.cmake\")
")

# The licence, with the documentation (GNUInstallDirs' DOCDIR:
# share/doc/smalloc). The manual pages (man/, man(7) macros written by hand)
# name the installed files, so SmallocInstallConfigure.cmake writes them.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
