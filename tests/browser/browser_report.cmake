# The HTML report in a real browser: runs tests/browser/report_experiment.lua (seconds, on
# synthetic data), then opens its index.html in headless Chromium (check_report.py): it
# renders, every figure loads, nothing is fetched from outside the file, and the console
# has no error.
#
# cmake -DSECATEURS_EXE=... -DPYTHON=... -DSOURCE_DIR=... -DWORK_DIR=... -P this
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE ${WORK_DIR})
execute_process(
  COMMAND ${SECATEURS_EXE} run ${SOURCE_DIR}/tests/browser/report_experiment.lua
          --store ${WORK_DIR}/store --output ${WORK_DIR}/out --jobs 2
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "secateurs run failed (${rc}):\n${out}\n${err}")
endif()
set(report ${WORK_DIR}/out/report/index.html)
if(NOT EXISTS ${report})
  message(FATAL_ERROR "no report at ${report}:\n${out}")
endif()
# ROC of two attacks, privacy-utility (AUC and TPR), vulnerability against sparsity and
# against the round, robustness against sparsity.
foreach(figure roc_attack_confidence roc_attack_rmia privacy_utility_auc privacy_utility_tpr
               vulnerability_sparsity vulnerability_rounds robustness_sparsity)
  foreach(format svg png gp)
    if(NOT EXISTS ${WORK_DIR}/out/report/figures/${figure}.${format})
      message(FATAL_ERROR "the report has no figures/${figure}.${format}")
    endif()
  endforeach()
endforeach()
execute_process(
  COMMAND ${PYTHON} ${SOURCE_DIR}/tests/browser/check_report.py ${report} --min-images 7
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the report does not pass in Chromium (${rc}):\n${out}\n${err}")
endif()
message(STATUS "${out}")
