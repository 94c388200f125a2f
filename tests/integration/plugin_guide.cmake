# docs/plugin-guide.md's example, exactly as the guide runs it: docs/plugin-guide/logit_margin
# builds out of tree against an installed SDK without warnings (-Werror), and
# `secateurs run docs/plugin-guide/experiment.lua --plugin-path ...` ends with a report in
# which attack.logit_margin has a row in attacks.csv (AUC a number in [0, 1]) and a line in
# summary.txt.
#
# cmake -DPREFIX=<sdk prefix> -DGENERATOR=Ninja -DSOURCE_DIR=<secateurs tree>
#       -DWORK_DIR=<scratch> -P this
cmake_minimum_required(VERSION 3.25)

foreach(variable PREFIX GENERATOR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "plugin_guide.cmake needs -D${variable}=...")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  WORKING_DIRECTORY ${SOURCE_DIR})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# The fields of one CSV line (RFC 4180 quoting: "a, b" is one field, "" inside quotes is a
# quote), as a CMake list. A list element may hold no ';' and no unbalanced '[' or ']'
# (CMake would split or join elements there), so those become ' ', '(' and ')'.
function(csv_fields line out_var)
  string(REPLACE ";" " " line "${line}")
  string(REPLACE "[" "(" line "${line}")
  string(REPLACE "]" ")" line "${line}")
  set(fields "")
  set(field "")
  set(quoted OFF)
  string(LENGTH "${line}" length)
  set(i 0)
  while(i LESS length)
    string(SUBSTRING "${line}" ${i} 1 ch)
    math(EXPR i "${i} + 1")
    if(quoted)
      if(ch STREQUAL "\"")
        string(SUBSTRING "${line}" ${i} 1 next)
        if(next STREQUAL "\"")
          string(APPEND field "\"")
          math(EXPR i "${i} + 1")
        else()
          set(quoted OFF)
        endif()
      else()
        string(APPEND field "${ch}")
      endif()
    elseif(ch STREQUAL "\"")
      set(quoted ON)
    elseif(ch STREQUAL ",")
      list(APPEND fields "${field}")
      set(field "")
    else()
      string(APPEND field "${ch}")
    endif()
  endwhile()
  list(APPEND fields "${field}")
  set(${out_var} "${fields}" PARENT_SCOPE)
endfunction()

set(exe ${PREFIX}/bin/secateurs)
set(dir ${WORK_DIR}/logit_margin)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
# Only this build's plugin: another logit_margin on the user's path would be refused as a
# duplicate.
unset(ENV{SECATEURS_PLUGIN_PATH})

# The example's own files, not a build folder someone may have left next to them.
file(COPY ${SOURCE_DIR}/docs/plugin-guide/logit_margin DESTINATION ${WORK_DIR}
     PATTERN build EXCLUDE)
run(${CMAKE_COMMAND} -S ${dir} -B ${dir}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_BUILD_TYPE=Release
    "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror")
run(${CMAKE_COMMAND} --build ${dir}/build)
if(NOT EXISTS ${dir}/build/plugins/liblogit_margin.so)
  message(FATAL_ERROR "the example did not build build/plugins/liblogit_margin.so")
endif()

run(${exe} describe attack.logit_margin --plugin-path ${dir}/build/plugins)
if(NOT run_output MATCHES "per_class +bool, default true")
  message(FATAL_ERROR "describe attack.logit_margin does not show per_class:\n${run_output}")
endif()

# The guide's command, from the tree's root, with a fresh store: nothing may come from an
# earlier run.
run(${exe} run docs/plugin-guide/experiment.lua --plugin-path ${dir}/build/plugins
    --store ${WORK_DIR}/store --output ${WORK_DIR}/out --jobs 2)
set(report ${WORK_DIR}/out/report)
foreach(file attacks.csv summary.txt)
  if(NOT EXISTS ${report}/${file})
    message(FATAL_ERROR "the run wrote no ${report}/${file}; it said:\n${run_output}")
  endif()
endforeach()

# attacks.csv: columns found by their header's names, so that columns added later do not
# break the test.
file(STRINGS ${report}/attacks.csv lines)
list(POP_FRONT lines header)
csv_fields("${header}" columns)
list(FIND columns attack attack_column)
list(FIND columns auc auc_column)
if(attack_column LESS 0 OR auc_column LESS 0)
  message(FATAL_ERROR "attacks.csv has no 'attack' or 'auc' column: ${header}")
endif()
set(found_attacks "")
foreach(line IN LISTS lines)
  csv_fields("${line}" fields)
  list(GET fields ${attack_column} attack)
  list(GET fields ${auc_column} auc)
  list(APPEND found_attacks "${attack}")
  if(attack MATCHES "^attack\\.logit_margin")
    if(NOT auc MATCHES "^[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?$" OR auc LESS 0 OR auc GREATER 1)
      message(FATAL_ERROR "attacks.csv: ${attack} has AUC '${auc}', not a number in [0, 1]")
    endif()
    message(STATUS "${attack}: AUC ${auc}")
  endif()
endforeach()
foreach(expected "attack.logit_margin" "attack.logit_margin {per_class: false}" "attack.confidence")
  if(NOT expected IN_LIST found_attacks)
    message(FATAL_ERROR "attacks.csv has no row for '${expected}'; it has: ${found_attacks}")
  endif()
endforeach()

file(READ ${report}/summary.txt summary)
if(NOT summary MATCHES "attack\\.logit_margin on ")
  message(FATAL_ERROR "summary.txt does not name attack.logit_margin:\n${summary}")
endif()
message(STATUS "docs/plugin-guide: logit_margin built out of tree, run in the guide's experiment")
