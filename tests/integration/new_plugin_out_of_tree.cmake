# `secateurs new-plugin KIND my_KIND` against an installed SDK: the skeleton configures,
# builds without warnings (-Werror), is listed by `plugins --plugin-path` and its
# parameters are shown by `describe`.
#
# cmake -DKIND=attack -DPREFIX=<sdk prefix> -DGENERATOR=Ninja -DWORK_DIR=<scratch> -P this
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

function(expect text pattern)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "expected output matching '${pattern}', got:\n${text}")
  endif()
endfunction()

set(name my_${KIND})
set(dir ${WORK_DIR}/${name})
set(exe ${PREFIX}/bin/secateurs)
file(REMOVE_RECURSE ${WORK_DIR})

run(${exe} new-plugin ${KIND} ${name} --dir ${dir})
expect("${run_output}" "Wrote a ${KIND} plugin skeleton")
foreach(file CMakeLists.txt README.md ${name}.cpp)
  if(NOT EXISTS ${dir}/${file})
    message(FATAL_ERROR "new-plugin did not write ${file}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S ${dir} -B ${dir}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_BUILD_TYPE=Release
    "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror")
run(${CMAKE_COMMAND} --build ${dir}/build)
if(NOT EXISTS ${dir}/build/plugins/lib${name}.so)
  message(FATAL_ERROR "the skeleton did not build build/plugins/lib${name}.so")
endif()

# Only the skeleton's folder: the installed plugins are found by the installed host itself.
run(${exe} plugins --plugin-path ${dir}/build/plugins)
expect("${run_output}" "${KIND} +${name} +0\\.1\\.0 +${name} +[^\n]*lib${name}\\.so")

run(${exe} describe ${KIND}.${name} --plugin-path ${dir}/build/plugins)
set(expected_attack  "temperature +float \\[0\\.001, 1000\\], default 1")
set(expected_pruner  "scope +enum {layer, global}, default layer")
set(expected_defense "weight +float \\[0, 10\\], default 0\\.1")
set(expected_dataset "samples +int \\[1, 10000000\\], default 1000.*separation +float >= 0, default 3")
set(expected_model   "hidden +int \\[1, 100000\\], default 256")
expect("${run_output}" "${KIND}\\.${name}: ")
expect("${run_output}" "${expected_${KIND}}")

# The same through SECATEURS_PLUGIN_PATH.
set(ENV{SECATEURS_PLUGIN_PATH} ${dir}/build/plugins)
run(${exe} describe ${KIND}.${name})
expect("${run_output}" "${expected_${KIND}}")
message(STATUS "${KIND}.${name}: built out of tree, listed and described")
