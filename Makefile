# The two set-up commands: `make book` (build the book and say where to open it) and `make test`.
# Each creates .venv and installs what it needs.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
STAMP   := .venv/.installed
SHARED_ML100K := $(abspath ../shared/data/ml-100k)
# Point tests and the book at the shared MovieLens-100K copy when it exists (never copied here).
export BST_TEACH_ML100K ?= $(if $(wildcard $(SHARED_ML100K)/u.data),$(SHARED_ML100K),)
export PYTHONHASHSEED := 0
# PyTorch's OpenMP threads sleep while they wait instead of spinning: with spinning threads a
# training step can take many times longer as soon as another process is busy (see
# bst_teach/__init__.py). Every command below inherits it: tests, notebook kernels, jupyter-book.
export OMP_WAIT_POLICY := PASSIVE

# The same numbers on every x86 machine with AVX2 (Intel or AMD): one torch thread, ATen,
# oneDNN and numpy held to AVX2 code, MKL to its COMPATIBLE path (its AVX2 path is for Intel
# processors only; on others MKL picks its own). Without these, an AVX-512 Intel and an AVX2 AMD
# processor train the chapters' models to different last bits, epochs later to different best epochs, and
# the stored outputs that nbval compares hold on one of them only (bst_teach.experiments keys its
# cache by them too). `make lab` inherits them: a reader's run gives the book's numbers.
export OMP_NUM_THREADS := 1
export ATEN_CPU_CAPABILITY := avx2
export MKL_CBWR := COMPATIBLE
export ONEDNN_MAX_CPU_ISA := AVX2
# numpy likewise (its AVX-512 exp and log round differently: the synthetic data's last bits),
# and its OpenBLAS on one kernel set (it picks one per processor model).
export NPY_DISABLE_CPU_FEATURES := X86_V4 AVX512_ICL AVX512_SPR
export OPENBLAS_CORETYPE := Haswell

# No progress bars or "loaded from cache" lines in executed notebooks (stored outputs stay
# independent of the cache); `make lab` turns them back on for the reader.
export BST_TEACH_PROGRESS ?= 0

.PHONY: book site test venv browser serve clean student notebook lab assignments results results-check

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "is ignored" || true
	$(PIP) install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import torch, jupyter_book, bst_teach; assert torch.__version__.startswith('2.13.0')"
	touch $(STAMP)

# Build the site: notebooks execute (cached by jupyter-cache and bst_teach.experiments),
# warnings are errors, JavaScript for math and widgets is fetched from npm into _build/.offline.
# book/_ext/run_anywhere.py also builds the bst_teach wheel (offline, the venv's setuptools) and
# puts it, requirements-notebooks.txt, every notebook and the benchmark results under
# _build/html/downloads/.
site: venv
	.venv/bin/jupyter-book build --all -W -n --keep-going .

book: site
	@echo
	@echo "The book is built. Open: file://$(abspath _build/html/index.html)"
	@echo "(or serve it: make serve, then http://127.0.0.1:8000)"

serve:
	$(PY) -m http.server --bind 127.0.0.1 --directory _build/html 8000

# Debian's Chromium for the browser tests of the built site.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Every test: the package, the built site in a real browser, and every notebook through nbval.
test: venv browser site
	$(PY) -m bst_teach results check $(COMPLETE_RESULTS)
	$(PY) -m pytest

# The book's evidence: every declared experiment (bst_teach/results.py), 2 runs at once with one
# thread each, resumable; `make results ONLY=positions` (or ONLY="norms depth") runs some of them,
# SEEDS=0 only seed 0 (a partial run: `results check` still wants the rest).
JOBS ?= 2
results: venv
	$(PY) -m bst_teach results run --jobs $(JOBS) $(if $(ONLY),--only $(ONLY),) $(if $(SEEDS),--seeds $(SEEDS),)

# Fails naming the command to run if a record is missing or made by other code or data.
results-check: venv
	$(PY) -m bst_teach results check

# Experiments whose records are all committed: `make test` fails if any of them is missing or stale.
COMPLETE_RESULTS := positions norms depth movielens paper-settings next-item

# Student copies: solutions replaced by stubs and answer cells, numbers and citations written in.
student: venv
	$(PY) -m bst_teach student-copies book student

# JupyterLab from the project's environment, data settings in place, opened on the student copies
# (the full notebooks are in book/). LAB_PORT=8888 by default; it listens on 127.0.0.1 only.
LAB_PORT ?= 8888
lab: student
	BST_TEACH_PROGRESS=1 .venv/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
	    --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/student --ServerApp.allow_root=True

# nbgrader course folder assignments/: source/chNN/chNN.ipynb with the solutions and hidden tests
# marked the nbgrader way (see book/teachers.md for the nbgrader commands that follow).
assignments: venv
	$(PY) -m bst_teach.exercises.assignments book assignments

clean:
	rm -rf _build .pytest_cache

# Author a chapter: book/src/$(NB).py (jupytext percent script) -> executed book/$(NB).ipynb
notebook: venv
	.venv/bin/jupytext --quiet --to ipynb --output book/$(NB).ipynb book/src/$(NB).py
	cd book && ../.venv/bin/jupyter nbconvert --log-level WARN --to notebook --execute --inplace $(NB).ipynb
