# minidl: make reproduce | make test | make lint | make bench | make notebooks | make lab | make book | make student
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MINIDL := $(BIN)/python -m minidl
export MPLBACKEND := agg
# One torch thread: these small matrices gain little from a second, and two threads
# that wait for each other on a busy machine can be many times slower.
export OMP_NUM_THREADS ?= 1

.PHONY: .venv install test test-cpus check-env student unit lint reproduce results results-validation bench bench-quick notebooks lab book test-book clean

install .venv: $(STAMP)

# The venv is (re)built whenever the project's dependencies change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -c constraints.txt
	touch $(STAMP)

test: $(STAMP)  ## unit tests, then every notebook under nbval
	$(BIN)/python -m pytest --nbval --nbval-current-env

# nbval on every notebook under other CPU code paths and thread counts: stand-ins for the
# CPUs of learners' machines (torch's vector kernels, MKL's code paths, another reduction
# order). A notebook that passes only under `make test` prints or compares a digit that
# depends on the machine.
CPU_SETTINGS := \
	"ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE" \
	"ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2" \
	"OMP_NUM_THREADS=2"
test-cpus: $(STAMP)  ## every notebook under nbval, once per CPU setting
	@set -e; for setting in $(CPU_SETTINGS); do \
		echo "== nbval with $$setting"; \
		env $$setting $(BIN)/python -m pytest -q --nbval --nbval-current-env notebooks; \
	done

student: $(STAMP)  ## the student edition in student/: solutions stubbed, answers and outputs removed
	$(BIN)/python tools/student_edition.py --out student

check-env: $(STAMP)  ## the installed versions against constraints.txt
	$(BIN)/python -m pytest -q -m env tests/test_packaging.py

unit: $(STAMP)  ## unit tests only
	$(BIN)/python -m pytest tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

reproduce: $(STAMP)  ## the report's 100-run table
	$(BIN)/python -m minidl reproduce

# Every file that notebooks/09_recipes.ipynb and notebooks/10_reproduction.ipynb read
# (11 minutes on the course's 2-core machine, about three times that while shared). Choices are made on VALIDATION runs
# (seed 1, 200 runs: data the reported runs never see); the reported figures are TEST runs
# (seed 0, 100 runs), each measured once. Then every file is stamped with its platform.
VALIDATION := --no-progress --seed 1 --runs 200
TEST := --no-progress --seed 0 --runs 100
CODE_MSE := --recipe report-code --set loss=mse --lr-from results/val_code_mse.json
results-validation: $(STAMP)  ## the validation runs alone (the choices)
	mkdir -p results
	$(MINIDL) sweep $(VALIDATION) --lr 0.02 0.05 0.1 0.2 0.5 --json results/val_standardized.json
	$(MINIDL) sweep $(VALIDATION) --lr 0.05 0.1 0.2 --set bias_std=0.1 --json results/val_bias01.json
	$(MINIDL) sweep $(VALIDATION) --lr 0.05 0.1 0.2 0.5 --set bias_std=1 --json results/val_bias1.json
	$(MINIDL) sweep $(VALIDATION) --lr 0.05 0.1 0.2 0.5 1 --set standardize=false \
		--json results/val_raw.json
	$(MINIDL) sweep $(VALIDATION) --recipe report --lr 0.1 0.2 0.5 1 2 --json results/val_report.json
	$(MINIDL) sweep $(VALIDATION) --lr 0.02 0.03 0.05 0.1 --set loss=bce --json results/val_bce.json
	$(MINIDL) sweep $(VALIDATION) --recipe report-code --lr 0.1 0.2 0.3 0.5 0.7 1 \
		--json results/val_report_code.json
	$(MINIDL) sweep $(VALIDATION) --recipe report-code --set loss=mse --lr 0.2 0.5 1 2 5 \
		--json results/val_code_mse.json

results: results-validation  ## every file the capstone notebooks read (test runs after validation)
	$(MINIDL) reproduce $(TEST) --json results/default.json
	$(MINIDL) reproduce $(TEST) --recipe report --json results/report.json
	$(MINIDL) reproduce $(TEST) --recipe report-code --json results/report_code.json
	$(MINIDL) reproduce $(TEST) --set loss=bce --lr-from results/val_bce.json --json results/bce.json
	$(MINIDL) reproduce $(TEST) $(CODE_MSE) --json results/code_mse.json
	$(MINIDL) reproduce $(TEST) $(CODE_MSE) --set task=disk --json results/code_mse_disk.json
	$(MINIDL) reproduce $(TEST) $(CODE_MSE) --set task=disk --set target_scale=1 \
		--json results/code_mse_disk_targets.json
	$(MINIDL) reproduce $(TEST) $(CODE_MSE) --set task=disk --set target_scale=1 \
		--set error_band=0 --json results/code_text.json
	$(MINIDL) reproduce $(TEST) --set use_gain=false --json results/no_gain.json
	$(MINIDL) reproduce $(TEST) --set restart=false --json results/no_restart.json
	$(MINIDL) reproduce $(TEST) --set hidden=relu,relu,relu --json results/all_relu.json
	$(MINIDL) reproduce $(TEST) --set hidden=tanh,tanh,tanh --json results/all_tanh.json
	$(MINIDL) reproduce $(TEST) --recipe report --set restart=false --json results/report_no_restart.json
	$(MINIDL) reproduce $(TEST) --recipe report --lr 1 --json results/report_lr1.json
	$(MINIDL) reproduce $(TEST) --recipe report --lr 1 --set restart=false \
		--json results/report_lr1_no_restart.json
	$(MINIDL) reproduce $(TEST) --recipe report --lr 0.1 --json results/report_lr01.json
	$(MINIDL) reproduce $(TEST) --recipe report --lr 0.1 --set restart=false \
		--json results/report_lr01_no_restart.json
	$(BIN)/python benchmarks/torch_reference.py --out results/torch_nn.json
	$(BIN)/python benchmarks/platform_record.py results/*.json

# Five engines on the report's protocol in interleaved rounds, peak memory per engine and
# a cost curve over R and width (about 15 minutes on the course's 2-core machine).
bench: $(STAMP)  ## minidl against batched autograd, torch.func and torch.nn
	$(BIN)/python benchmarks/bench_reproduce.py

bench-quick: $(STAMP)  ## the same at 10 epochs and 3 rounds, for development
	$(BIN)/python benchmarks/bench_reproduce.py --quick

notebooks: $(STAMP)  ## re-execute every notebook in place (refreshes nbval's expected outputs)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.record_timing=False \
		$(or $(NOTEBOOKS),notebooks/*.ipynb)

# The course as a website (docs/), from the notebooks' stored outputs: nothing is executed.
# Any warning (a broken reference, a missing image) fails the build.
book: $(STAMP)  ## the site in docs/_build/html (open docs/_build/html/index.html)
	rm -rf docs/_build/html
	$(BIN)/sphinx-build -q -W --keep-going -n -b html docs docs/_build/html
	@echo "The course site: docs/_build/html/index.html"

test-book: book  ## the site in headless Chromium (apt-get install chromium), screenshots
	$(BIN)/python -m pytest -q docs/test_book.py

LAB_ARGS ?=
lab: $(STAMP)  ## JupyterLab on notebooks/ (LAB_ARGS="--port 8890 --no-browser" passes flags)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) notebooks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis docs/_build
