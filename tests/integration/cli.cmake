# The command line's exit codes and messages, as docs/cli.md documents them.
#
# cmake -DSECATEURS_EXE=... -DFIXTURE_DIR=... -DDATA_DIR=... -DWORK_DIR=... -P this
cmake_minimum_required(VERSION 3.25)

# Runs secateurs with ARGN; checks the exit code and that stdout+stderr match `pattern`.
function(check expected_code pattern)
  execute_process(COMMAND ${SECATEURS_EXE} ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL expected_code)
    message(FATAL_ERROR "secateurs ${ARGN}: exit ${rc}, expected ${expected_code}\n${out}\n${err}")
  endif()
  if(NOT "${out}${err}" MATCHES "${pattern}")
    message(FATAL_ERROR "secateurs ${ARGN}: output does not match '${pattern}':\n${out}\n${err}")
  endif()
endfunction()

set(fixtures --plugin-path ${FIXTURE_DIR})
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

check(0 "^secateurs [0-9]+\\.[0-9]+\\.[0-9]+ \\(plugin ABI 1\\.0; compiler=" --version)
check(0 "Exit codes: 0 success" --help)
check(2 "" --no-such-flag plugins)
check(2 "component is required" describe)
check(3 "unknown command 'descibe'; did you mean 'describe'\\?" descibe attack.good_attack)

# 4: a library failed; the good ones are still listed, each failure is explained.
check(4 "attack +good_attack +2\\.3\\.1 +fixture_good" plugins ${fixtures})
check(4 "11 plugin libraries failed to load:.*could not be loaded: invalid ELF header" plugins ${fixtures})

check(0 "offset +float \\[-10, 10\\], default 0\n +added to every score" describe attack.good_attack ${fixtures})
check(3 "no component named attack.good_atack; did you mean 'attack.good_attack'\\?" describe attack.good_atack ${fixtures})
check(3 "unknown component kind 'atack'.*did you mean 'attack'\\?" describe atack.good_attack ${fixtures})
check(3 "failed to load: .*the weights table 'tables.bin' is missing" describe attack.half_registered ${fixtures})

check(0 "valid parameters for attack.good_attack.*mode: fast.*offset: 1.5.*rounds: 3.*threshold: 0.25"
      validate attack.good_attack ${DATA_DIR}/config/good_attack_valid.yaml ${fixtures})
check(5 "good_attack_invalid.yaml:1:9: attack.good_attack: parameter 'offset': must be in \\[-10, 10\\], got 11"
      validate attack.good_attack ${DATA_DIR}/config/good_attack_invalid.yaml ${fixtures})
check(5 "good_attack_invalid.yaml:2:1: attack.good_attack: unknown parameter 'mdoe'; did you mean 'mode'\\?"
      validate attack.good_attack ${DATA_DIR}/config/good_attack_invalid.yaml ${fixtures})
check(5 "good_attack_invalid.yaml:1:1: attack.good_attack: missing required parameter 'threshold'"
      validate attack.good_attack ${DATA_DIR}/config/good_attack_invalid.yaml ${fixtures})

check(3 "unknown component kind 'atack'; did you mean 'attack'\\?" new-plugin atack x --dir ${WORK_DIR}/x)
check(2 "plugin name 'My-Attack' must be lower case" new-plugin attack My-Attack --dir ${WORK_DIR}/y)
file(WRITE ${WORK_DIR}/occupied/keep.txt "not empty")
check(1 "already exists and is not an empty directory" new-plugin attack z --dir ${WORK_DIR}/occupied)
check(0 "Wrote a model plugin skeleton" new-plugin model tiny_mlp --dir ${WORK_DIR}/tiny_mlp)
check(0 "BLAS: " info)

# `dataset`: the real Fashion-MNIST test split, then a truncated copy of it.
file(WRITE ${WORK_DIR}/test-split.yaml "split: test\nlimit: 500\n")
check(0 "dataset.fashion_mnist \\(plugin idx [^)]*\\), loaded in .*500 examples of shape \\[1, 28, 28\\], 10 classes"
      dataset dataset.fashion_mnist --params ${WORK_DIR}/test-split.yaml)
file(MAKE_DIRECTORY ${WORK_DIR}/cut)
file(COPY /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz DESTINATION ${WORK_DIR}/cut)
file(WRITE ${WORK_DIR}/cut.yaml "path: ${WORK_DIR}/cut\nsplit: test\n")
# The first 2,000 bytes of the labels' gzip stream: a download cut short.
execute_process(COMMAND head -c 2000 /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
                OUTPUT_FILE ${WORK_DIR}/cut/t10k-labels-idx1-ubyte.gz)
check(6 "cut/t10k-labels-idx1-ubyte.gz: the gzip stream ends early \\(the file is truncated\\)"
      dataset dataset.fashion_mnist --params ${WORK_DIR}/cut.yaml)
check(2 "attack.good_attack is not a dataset" dataset attack.good_attack ${fixtures})

# `train`: a tiny run on synthetic blobs writes its files; a misspelt run file is refused
# before any work, with every problem located.
file(WRITE ${WORK_DIR}/blobs-run.yaml [=[
seed: 3
dataset: {component: dataset.synthetic_blobs, params: {samples: 600, classes: 3, features: 5}}
model: {component: model.mlp, params: {hidden: [16]}}
split: {mode: membership, members: 200, dev: 50}
trainer: {epochs: 3, batch_size: 32, patience: 2, restore_best: true}
]=])
check(0 "epoch   3/3.*split: +membership plan: 200 train, 50 dev, 200 non-members.*test accuracy"
      train ${WORK_DIR}/blobs-run.yaml --output ${WORK_DIR}/blobs-out --threads 1)
foreach(written model.ckpt plan.txt epochs.csv summary.txt)
  if(NOT EXISTS ${WORK_DIR}/blobs-out/${written})
    message(FATAL_ERROR "secateurs train wrote no ${written}")
  endif()
endforeach()
file(WRITE ${WORK_DIR}/bad-run.yaml [=[
seed: 3
dataset: {component: dataset.synthetic_blob}
model: {component: model.mlp, params: {hiden: [16]}}
split: {members: 200}
trainr: {epochs: 3}
]=])
check(5 "bad-run.yaml:5:1: unknown section 'trainr'; did you mean 'trainer'\\?.*no component named dataset.synthetic_blob; did you mean 'dataset.synthetic_blobs'\\?.*bad-run.yaml:3:[0-9]+: model.mlp: unknown parameter 'hiden'; did you mean 'hidden'\\?"
      train ${WORK_DIR}/bad-run.yaml)

# `prune`: the dense model trained, then three iterative rounds, each measured; the run's
# files written; a second run starts from the first one's dense checkpoint. --set changes
# any value and is validated like the file.
file(WRITE ${WORK_DIR}/prune-run.yaml [=[
seed: 3
dataset: {component: dataset.synthetic_blobs, params: {samples: 600, classes: 3, features: 5}}
model: {component: model.mlp, params: {hidden: [32, 16]}}
split: {mode: membership, members: 200, dev: 50}
trainer: {epochs: 3, batch_size: 32}
pruning:
  pruner: {component: pruner.magnitude, params: {scope: global}}
  schedule: {schedule: iterative, sparsity: 0.6, rounds: 3}
  finetune: {epochs: 1, batch_size: 32, learning_rate: 0.01}
]=])
check(0 "round +dense +sparsity +0.00 %.*round +3 +sparsity +(59.9[0-9]|60.00) %.*final: sparsity"
      prune ${WORK_DIR}/prune-run.yaml --output ${WORK_DIR}/prune-out --threads 1)
foreach(written model.ckpt dense.ckpt rounds.csv layers.csv summary.txt plan.txt dense_epochs.csv)
  if(NOT EXISTS ${WORK_DIR}/prune-out/${written})
    message(FATAL_ERROR "secateurs prune wrote no ${written}")
  endif()
endforeach()
check(0 "dense model: .*dense.ckpt.*round +1 +sparsity +50.00 %.*one-shot, sparsity 0.5"
      prune ${WORK_DIR}/prune-run.yaml --threads 1
      --set pruning.start.checkpoint=${WORK_DIR}/prune-out/dense.ckpt
      --set pruning.schedule.schedule=one_shot --set pruning.schedule.sparsity=0.5)
check(5 "the dense checkpoint's seed is '3', the run file's is '4'"
      prune ${WORK_DIR}/prune-run.yaml --set seed=4
      --set pruning.start.checkpoint=${WORK_DIR}/prune-out/dense.ckpt)
check(5 "prune-run.yaml: pruning.schedule: parameter 'sparsity': must be in \\[0, 0.999\\], got 2.*as changed by --set pruning.schedule.sparsity=2"
      prune ${WORK_DIR}/prune-run.yaml --set pruning.schedule.sparsity=2)
check(5 "prune-run.yaml: pruning: unknown key 'schedul'; did you mean 'schedule'\\?"
      prune ${WORK_DIR}/prune-run.yaml --set pruning.schedul.rounds=2)
check(5 "--set pruning: expected KEY=VALUE" prune ${WORK_DIR}/prune-run.yaml --set pruning)
