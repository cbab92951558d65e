# The README's commands. `make demo` runs the demo pipeline (dvc repro); `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.14.1
# Without a visible GPU the demo builds the CPU kernels only (seconds instead of minutes of nvcc).
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)

.PHONY: install build build-cpu demo test bench gpu-wheels zoo table2 claim generation clean

$(VENV)/.deps: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# The page `dvc plots show` fills, with Vega inline (pyext/plots_page.py): the curves render without a
# network. Where the npm registry cannot be reached, DVC's own page stays (its curves need one).
PLOTS_PAGE := $(VENV)/share/beyondmse/plots.html
$(PLOTS_PAGE): pyext/plots_page.py | $(VENV)/.deps
	$(PY) -m pyext.plots_page $@ || echo "make: $@ not written: dvc plots show draws its curves only online"

# The package in editable mode, for the `beyondmse` command (its extension is built by `build`).
$(VENV)/.installed: setup.py | $(VENV)/.deps
	BEYONDMSE_NO_EXTENSION=1 $(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

install: $(VENV)/.deps $(VENV)/.installed build $(PLOTS_PAGE)

# Incremental (ninja): a second run recompiles only what changed. CUDA sources compile whenever
# nvcc is found; BEYONDMSE_CPU_ONLY=1 skips them.
build: $(VENV)/.deps
	$(PY) setup.py --quiet build_ext --inplace

build-cpu: $(VENV)/.deps
	BEYONDMSE_CPU_ONLY=1 $(PY) setup.py --quiet build_ext --inplace

demo: $(VENV)/.deps $(VENV)/.installed
	$(MAKE) $(if $(HAS_GPU),build,build-cpu) $(PLOTS_PAGE)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" dvc repro

# BEYONDMSE_REQUIRE_NATIVE: a missing or broken extension fails the run instead of silently
# comparing the reference with itself. One pytest worker per core this process may run on
# (pytest-xdist; `-n auto` would count physical cores, one on a 2-vCPU machine with hyperthreads), each
# test file on one worker so that a module's fixture is built once; each worker runs one torch thread
# (tests/conftest.py). `make test TEST_WORKERS=0` runs them in this process.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count())")
test: install
	BEYONDMSE_REQUIRE_NATIVE=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: install
	BEYONDMSE_REQUIRE_NATIVE=1 $(PY) -m bench.kernels

# Wheels of the packages bench/gpu_check.sh needs beyond a GPU machine's python3.12 and torch, for
# a machine without a package index: WHEELS=.whl bash bench/gpu_check.sh there.
gpu-wheels: $(VENV)/.deps
	$(PY) -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .whl zstandard "pydantic>=2"

# The adversarial objective zoo (experiments/zoo.py): one DVC experiment per objective and per option of the
# networks and losses; on 2 CPU cores all 18 rows took 81 minutes (measured, five of them beside other
# work). The table and picture land in
# experiments/results/zoo/. ZOO_ARGS="--only hinge --set train.steps=100".
zoo: $(VENV)/.deps $(VENV)/.installed
	$(MAKE) $(if $(HAS_GPU),build,build-cpu)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" beyondmse zoo $(ZOO_ARGS)

# The paper's Table 2 (experiments/table2.py): one DVC experiment per row of configs/table2/ and a second
# seed of Adv+GDL*; on 2 CPU cores it took 19 minutes (measured). Writes
# experiments/results/table2/table2.md, .json and .png. TABLE2_ARGS="--set train.steps=100" or "--base configs/paper.yaml" (a GPU).
table2: $(VENV)/.deps $(VENV)/.installed
	$(MAKE) $(if $(HAS_GPU),build,build-cpu)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" beyondmse table2 $(TABLE2_ARGS)

# The paper's claim on uncertain futures (experiments/claim.py): l2, l1, GDL, Adv+GDL at three weights and
# with noise, two other objectives, two seeds of l2, GDL and Adv+GDL, one DVC experiment each over
# configs/stochastic.yaml; 15 rows took 54 minutes on 2 CPU cores (measured). Writes
# experiments/results/claim/claim.md, .json and .png. CLAIM_ARGS="--only l2".
claim: $(VENV)/.deps $(VENV)/.installed
	$(MAKE) $(if $(HAS_GPU),build,build-cpu)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" beyondmse claim $(CLAIM_ARGS)

# The generation zoo (experiments/generation.py): DCGAN under every objective that applies, each at its paper's
# optimiser, a second seed, LAPGAN, VAE-GAN, BigGAN and GRAN, one DVC experiment each over configs/<family>.yaml. Writes
# experiments/results/generation/generation.md, .json and .png. GENERATION_ARGS="--only bce --set train.steps=300".
generation: $(VENV)/.deps $(VENV)/.installed
	$(MAKE) $(if $(HAS_GPU),build,build-cpu)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" beyondmse generation $(GENERATION_ARGS)

clean:
	rm -rf build pyext/_C*.so
