# Runs inside `cmake --install` (install(CODE) in SmallocInstall.cmake), where
# CMAKE_INSTALL_PREFIX is the prefix of this install, --prefix included. Writes
# smalloc.pc, smalloc-run and the man pages for that prefix and installs them; file(INSTALL)
# adds DESTDIR, so a staged install still names the final paths.
# In: SMALLOC_SOURCE_DIR, SMALLOC_BINARY_DIR, SMALLOC_VERSION(_MAJOR),
#     SMALLOC_{LIB,INCLUDE,BIN,MAN,DOC}DIR_REL (GNUInstallDirs, maybe absolute),
#     SMALLOC_DL_LIBS.

function(smalloc_install_abs out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

set(SMALLOC_PREFIX "${CMAKE_INSTALL_PREFIX}")
smalloc_install_abs(SMALLOC_INSTALL_LIBDIR "${SMALLOC_LIBDIR_REL}")
smalloc_install_abs(SMALLOC_INSTALL_INCLUDEDIR "${SMALLOC_INCLUDEDIR_REL}")
smalloc_install_abs(SMALLOC_INSTALL_BINDIR "${SMALLOC_BINDIR_REL}")
smalloc_install_abs(SMALLOC_INSTALL_MANDIR "${SMALLOC_MANDIR_REL}")
smalloc_install_abs(SMALLOC_INSTALL_DOCDIR "${SMALLOC_DOCDIR_REL}")
# The file the dynamic loader opens: the SONAME link, present with the runtime
# files even when the unversioned development link is not.
set(SMALLOC_INSTALL_LIBRARY "${SMALLOC_INSTALL_LIBDIR}/libsmalloc.so.${SMALLOC_VERSION_MAJOR}")

# smalloc.pc: relative directories stay relative to ${prefix}, as pkg-config
# files are usually written.
if(IS_ABSOLUTE "${SMALLOC_LIBDIR_REL}")
  set(SMALLOC_PC_LIBDIR "${SMALLOC_LIBDIR_REL}")
else()
  set(SMALLOC_PC_LIBDIR "\${prefix}/${SMALLOC_LIBDIR_REL}")
endif()
if(IS_ABSOLUTE "${SMALLOC_INCLUDEDIR_REL}")
  set(SMALLOC_PC_INCLUDEDIR "${SMALLOC_INCLUDEDIR_REL}")
else()
  set(SMALLOC_PC_INCLUDEDIR "\${prefix}/${SMALLOC_INCLUDEDIR_REL}")
endif()
set(SMALLOC_PC_DL "")
foreach(lib IN LISTS SMALLOC_DL_LIBS)
  string(APPEND SMALLOC_PC_DL " -l${lib}")
endforeach()
string(STRIP "${SMALLOC_PC_DL}" SMALLOC_PC_DL)

# Staged per prefix so that two installs from one build tree cannot mix.
string(MD5 stage_key "${CMAKE_INSTALL_PREFIX}")
set(stage "${SMALLOC_BINARY_DIR}/cmake/install-${stage_key}")

configure_file("${SMALLOC_SOURCE_DIR}/cmake/smalloc.pc.in" "${stage}/smalloc.pc" @ONLY)
file(INSTALL "${stage}/smalloc.pc" DESTINATION "${SMALLOC_INSTALL_LIBDIR}/pkgconfig")

# smalloc-run: the launcher preloads the installed library (its @VARIABLES@:
# SMALLOC_RUN_LIBRARY, SMALLOC_VERSION; lib/CMakeLists.txt writes the build
# tree's copy from the same template).
set(SMALLOC_RUN_LIBRARY "${SMALLOC_INSTALL_LIBRARY}")
configure_file("${SMALLOC_SOURCE_DIR}/cmake/smalloc-run.in" "${stage}/smalloc-run" @ONLY)
file(INSTALL "${stage}/smalloc-run" DESTINATION "${SMALLOC_INSTALL_BINDIR}"
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                   WORLD_READ WORLD_EXECUTE)

# The man pages (man/*.in, man(7) macros written by hand): their @VARIABLES@
# are SMALLOC_VERSION and SMALLOC_MAN_*, the installed paths with each "-"
# written "\-" so that troff prints a minus a shell would accept, not a hyphen.
foreach(dir LIBRARY LIBDIR INCLUDEDIR DOCDIR)
  string(REPLACE "-" "\\-" SMALLOC_MAN_${dir} "${SMALLOC_INSTALL_${dir}}")
endforeach()
foreach(page smalloc.3 smalloc-run.1)
  string(REGEX REPLACE ".*[.]([0-9])$" "\\1" section "${page}")
  configure_file("${SMALLOC_SOURCE_DIR}/man/${page}.in" "${stage}/${page}" @ONLY)
  file(INSTALL "${stage}/${page}" DESTINATION "${SMALLOC_INSTALL_MANDIR}/man${section}")
endforeach()
