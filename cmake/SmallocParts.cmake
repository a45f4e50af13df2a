# Which optional parts are built, decided before any target is defined
# (included by the top-level CMakeLists.txt). The library needs a C compiler
# and nothing else, as jemalloc and mimalloc do; the parts below are built
# when what they need is there, and the configure summary says which.
#
#   SMALLOC_TESTS  AUTO  (the default at top level) the test suite when
#                        Criterion is found, else none, with a note saying
#                        what to install
#                  ON    the whole suite: configuring fails at once when
#                        Criterion or a C++ compiler is missing (tests/run.sh)
#                  OFF   no tests
#   C++            only tests/integration/preload/*.cc (preload_cxx) and
#                  bench/gbench_shim.cc are C++: the language is enabled when
#                  check_language(CXX) finds a compiler, and those two parts
#                  are left out when it does not.
#   SMALLOC_BENCH  the C harness (driver, runprog, pair, the trace recorder)
#                  needs nothing more; gbench_shim needs C++ and Google
#                  Benchmark and is left out without them (bench/CMakeLists.txt).
#
# Out: SMALLOC_TESTS is ON or OFF from here on, a normal variable over the
# cache entry, so that every later if(SMALLOC_TESTS) sees the outcome, not
# AUTO; SMALLOC_HAVE_CXX (ON: C++ enabled); SMALLOC_TESTS_NOTE (why, for the
# summary; empty when there is nothing to say).
set(SMALLOC_TESTS_NOTE "")
string(TOUPPER "${SMALLOC_TESTS}" smalloc_tests_asked)
if(smalloc_tests_asked STREQUAL "AUTO")
  find_package(Criterion QUIET)
  if(Criterion_FOUND)
    set(SMALLOC_TESTS ON)
    set(SMALLOC_TESTS_NOTE "AUTO: Criterion found")
  else()
    set(SMALLOC_TESTS OFF)
    set(SMALLOC_TESTS_NOTE "Criterion not found: apt-get install libcriterion-dev")
  endif()
elseif(SMALLOC_TESTS)
  find_package(Criterion QUIET)
  if(NOT Criterion_FOUND)
    message(FATAL_ERROR "SMALLOC_TESTS=ON, but Criterion was not found "
      "(CRITERION_INCLUDE_DIR=${CRITERION_INCLUDE_DIR}, CRITERION_LIBRARY=${CRITERION_LIBRARY}). "
      "Debian: apt-get install libcriterion-dev (tests/run.sh installs every test dependency); "
      "or configure with -DSMALLOC_TESTS=OFF, or leave it at AUTO to build without the tests.")
  endif()
  set(SMALLOC_TESTS ON)
else()
  set(SMALLOC_TESTS OFF)
endif()

set(SMALLOC_HAVE_CXX OFF)
if(SMALLOC_TESTS OR SMALLOC_BENCH)
  include(CheckLanguage)
  check_language(CXX)
  if(CMAKE_CXX_COMPILER)
    enable_language(CXX)
    set(SMALLOC_HAVE_CXX ON)
  elseif(smalloc_tests_asked STREQUAL "AUTO" AND SMALLOC_TESTS)
    set(SMALLOC_TESTS_NOTE "${SMALLOC_TESTS_NOTE}; no C++ compiler: preload_cxx left out")
  elseif(SMALLOC_TESTS)
    message(FATAL_ERROR "SMALLOC_TESTS=ON, but no C++ compiler was found, and tests/integration/preload "
      "has C++ programs. Debian: apt-get install g++ (or set CXX); "
      "-DSMALLOC_TESTS=AUTO builds the other tests without it.")
  endif()
endif()
