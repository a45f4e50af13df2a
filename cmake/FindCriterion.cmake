# find_package(Criterion): the Criterion C test framework (Debian:
# libcriterion-dev), which has no CMake package file of its own.
#   Criterion_FOUND, CRITERION_INCLUDE_DIR, CRITERION_LIBRARY, and the
#   imported target Criterion::Criterion.
# -DCMAKE_DISABLE_FIND_PACKAGE_Criterion=ON makes find_package skip it.
find_path(CRITERION_INCLUDE_DIR criterion/criterion.h)
find_library(CRITERION_LIBRARY criterion)
mark_as_advanced(CRITERION_INCLUDE_DIR CRITERION_LIBRARY)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Criterion
  REQUIRED_VARS CRITERION_LIBRARY CRITERION_INCLUDE_DIR)

if(Criterion_FOUND AND NOT TARGET Criterion::Criterion)
  add_library(Criterion::Criterion UNKNOWN IMPORTED)
  set_target_properties(Criterion::Criterion PROPERTIES
    IMPORTED_LOCATION "${CRITERION_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CRITERION_INCLUDE_DIR}")
endif()
