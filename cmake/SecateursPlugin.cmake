# secateurs_add_plugin(<name> SOURCES <file>... [LIBRARIES <lib>...] [OUTPUT_DIRECTORY <dir>]
#                      [NO_PRECOMPILED_HEADER])
#
# Adds a plugin: a MODULE library lib<name>.so with hidden visibility, linked against the
# SDK, written to the build's plugins folder (<build>/plugins unless OUTPUT_DIRECTORY is
# given) and made a dependency of the aggregate target `secateurs_plugins`. The same
# function serves plugins inside the secateurs tree and outside it (after
# find_package(Secateurs)).
function(secateurs_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 PLUGIN "NO_PRECOMPILED_HEADER" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES")
  if(NOT PLUGIN_SOURCES)
    message(FATAL_ERROR "secateurs_add_plugin(${name}): SOURCES is required")
  endif()
  set(default_output_directory OFF)
  if(NOT PLUGIN_OUTPUT_DIRECTORY)
    set(default_output_directory ON)
    if(SECATEURS_PLUGIN_OUTPUT_DIR)
      set(PLUGIN_OUTPUT_DIRECTORY ${SECATEURS_PLUGIN_OUTPUT_DIR})
    else()
      set(PLUGIN_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/plugins)
    endif()
  endif()

  add_library(${name} MODULE ${PLUGIN_SOURCES})
  target_link_libraries(${name} PRIVATE Secateurs::sdk ${PLUGIN_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${PLUGIN_OUTPUT_DIRECTORY})

  if(NOT TARGET secateurs_plugins)
    add_custom_target(secateurs_plugins ALL COMMENT "All secateurs plugins")
  endif()
  add_dependencies(secateurs_plugins ${name})

  if(SECATEURS_IN_TREE)
    target_link_libraries(${name} PRIVATE secateurs_warnings)
    # Loading the LibTorch PCH costs about 7 s, so sources that do not include LibTorch
    # (the loader's fixtures) opt out. A reused PCH must match the plugin's compile flags,
    # so a library that brings compile definitions or options rules it out.
    set(pch_compatible ON)
    foreach(library IN LISTS PLUGIN_LIBRARIES)
      if(TARGET ${library})
        get_target_property(definitions ${library} INTERFACE_COMPILE_DEFINITIONS)
        get_target_property(options ${library} INTERFACE_COMPILE_OPTIONS)
        if(definitions OR options)
          set(pch_compatible OFF)
        endif()
      endif()
    endforeach()
    if(TARGET secateurs_plugin_pch AND pch_compatible AND NOT PLUGIN_NO_PRECOMPILED_HEADER)
      target_precompile_headers(${name} REUSE_FROM secateurs_plugin_pch)
    endif()
    # Installed plugins sit where an installed `secateurs` looks for them.
    if(default_output_directory)
      set_target_properties(${name} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
      install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/secateurs/plugins)
    endif()
  endif()
endfunction()
