# Defines einvit::xsimd_headers, an interface target carrying xsimd's include directory.
#
# xsimd is header-only. Debian 12's xsimd package exports a target that also links a library named
# "xtl" which does not exist, so linking that target fails; einvit takes only its headers.
if(NOT TARGET einvit::xsimd_headers)
  find_package(xsimd 8 QUIET CONFIG)
  set(_einvit_xsimd_hints "")
  if(TARGET xsimd)
    get_target_property(_einvit_xsimd_hints xsimd INTERFACE_INCLUDE_DIRECTORIES)
  endif()
  find_path(EINVIT_XSIMD_INCLUDE_DIR NAMES xsimd/xsimd.hpp HINTS ${_einvit_xsimd_hints})
  if(EINVIT_XSIMD_INCLUDE_DIR)
    add_library(einvit::xsimd_headers INTERFACE IMPORTED)
    set_target_properties(einvit::xsimd_headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${EINVIT_XSIMD_INCLUDE_DIR}")
  endif()
  unset(_einvit_xsimd_hints)
endif()
